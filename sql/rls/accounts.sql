-- users: a signed-in user reads and edits their own profile, and
-- nothing else. The service role manages every row.
--
-- Column privileges do what a policy cannot: authenticated may read every
-- profile column but the password hash, and may change only name and image,
-- so nobody can rewrite their id, email, is_staff, is_superuser or password
-- through the Data API. The WITH CHECK keeps the row theirs as well.
-- Policies compare with (SELECT auth.uid()): evaluated once per statement,
-- not once per row (Supabase's RLS performance advice); `id` is the primary key.
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.users FROM anon, authenticated, service_role;
GRANT SELECT (id, email, name, image, is_active, is_staff, is_superuser, last_login, created_at, updated_at)
    ON public.users TO authenticated;
GRANT UPDATE (name, image) ON public.users TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.users TO service_role;

CREATE POLICY users_select_own ON public.users
    FOR SELECT TO authenticated
    USING (id = (SELECT auth.uid()));
CREATE POLICY users_update_own ON public.users
    FOR UPDATE TO authenticated
    USING (id = (SELECT auth.uid()))
    WITH CHECK (id = (SELECT auth.uid()));
CREATE POLICY users_service_role_all ON public.users
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- Group and permission memberships are Django's operator plumbing: RLS on,
-- no policy, no grants.
ALTER TABLE public.users_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.users_user_permissions ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.users_groups, public.users_user_permissions FROM anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE public.users_groups_id_seq, public.users_user_permissions_id_seq
    FROM anon, authenticated, service_role;
