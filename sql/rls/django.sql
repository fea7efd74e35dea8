-- Django's own tables: RLS on, no policy, no grants to the API roles.
--
-- Nothing outside Django has business in sessions, the admin log, the
-- migration record or the permission tables. RLS with no policy denies every
-- row to anyone who is not the owner (Django's role), and the REVOKEs undo
-- Supabase's default privileges, which grant ALL on new public tables to
-- anon, authenticated and service_role.
ALTER TABLE public.django_migrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.django_session ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.django_content_type ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.django_admin_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.auth_permission ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.auth_group ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.auth_group_permissions ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE
    public.django_migrations,
    public.django_session,
    public.django_content_type,
    public.django_admin_log,
    public.auth_permission,
    public.auth_group,
    public.auth_group_permissions
FROM anon, authenticated, service_role;

REVOKE ALL ON SEQUENCE
    public.django_migrations_id_seq,
    public.django_content_type_id_seq,
    public.django_admin_log_id_seq,
    public.auth_permission_id_seq,
    public.auth_group_id_seq,
    public.auth_group_permissions_id_seq
FROM anon, authenticated, service_role;
