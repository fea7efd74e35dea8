DROP POLICY IF EXISTS storage_objects_select_own ON public.storage_objects;
DROP POLICY IF EXISTS storage_objects_service_role_all ON public.storage_objects;
-- Back to PostgreSQL's default (no grants), never Supabase's ALL.
REVOKE ALL ON TABLE public.storage_objects FROM anon, authenticated, service_role;
ALTER TABLE public.storage_objects DISABLE ROW LEVEL SECURITY;
