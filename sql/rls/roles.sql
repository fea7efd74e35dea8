-- Supabase's API roles, created only where missing (plain PostgreSQL, CI).
--
-- PostgREST (Supabase's Data API) switches to one of these per request:
-- anon (no JWT), authenticated (a signed-in user's JWT), service_role (the
-- service key). Our RLS policies name them, so they must exist before any
-- policy does. On Supabase they exist already and nothing here changes them.
--
-- The attributes mirror Supabase's: NOLOGIN NOINHERIT, and BYPASSRLS for
-- service_role where we are allowed to grant it (a superuser). Without it
-- service_role still works: every table has an explicit service_role policy.
--
-- Roles are cluster-wide: another database (a test database, a second
-- checkout) may be creating them at the same moment, so a lost race is
-- success, not an error.
DO $roles$
DECLARE
    is_superuser boolean := (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format(
                    'CREATE ROLE %I NOLOGIN NOINHERIT%s',
                    role_name,
                    CASE WHEN role_name = 'service_role' AND is_superuser THEN ' BYPASSRLS' ELSE '' END
                );
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created concurrently by another database's migrate
            END;
        END IF;
        -- Django's role must be able to SET ROLE to them (versatools.rls, the
        -- RLS tests). A superuser always can; on Supabase `postgres` is already
        -- a member; elsewhere grant it once.
        IF NOT is_superuser AND NOT pg_catalog.pg_has_role(current_user, role_name, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', role_name, current_user);
        END IF;
    END LOOP;
END
$roles$;

-- The API roles may look up objects in public; what they may touch there is
-- decided per table by the sql/rls/<app>.sql files.
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
