DROP POLICY IF EXISTS storage_deletions_service_role_all ON public.storage_deletions;
-- Back to PostgreSQL's default (no grants), never Supabase's ALL.
REVOKE ALL ON TABLE public.storage_deletions FROM anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE public.storage_deletions_id_seq FROM service_role;
ALTER TABLE public.storage_deletions DISABLE ROW LEVEL SECURITY;
