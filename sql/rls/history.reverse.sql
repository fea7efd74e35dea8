DROP POLICY IF EXISTS history_select_own ON public.history;
DROP POLICY IF EXISTS history_delete_own ON public.history;
DROP POLICY IF EXISTS history_service_role_all ON public.history;
-- Back to PostgreSQL's default (no grants), never Supabase's ALL.
REVOKE ALL ON TABLE public.history FROM anon, authenticated, service_role;
ALTER TABLE public.history DISABLE ROW LEVEL SECURITY;
