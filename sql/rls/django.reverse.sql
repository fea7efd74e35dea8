-- RLS off again. The grants stay revoked: re-granting Supabase's defaults
-- would open these tables to the Data API.
ALTER TABLE public.django_migrations DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.django_session DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.django_content_type DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.django_admin_log DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.auth_permission DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.auth_group DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.auth_group_permissions DISABLE ROW LEVEL SECURITY;
