DROP POLICY IF EXISTS users_select_own ON public.users;
DROP POLICY IF EXISTS users_update_own ON public.users;
DROP POLICY IF EXISTS users_service_role_all ON public.users;
-- Grants go back to PostgreSQL's default (none), not to Supabase's (ALL):
-- a table without RLS must not be open to the Data API.
REVOKE ALL ON TABLE public.users FROM anon, authenticated, service_role;
ALTER TABLE public.users DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.users_groups DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.users_user_permissions DISABLE ROW LEVEL SECURITY;
