-- The stand-ins of sql/rls/auth_schema.sql must never stop Supabase's auth
-- server from migrating after this project (a fresh self-hosted stack where
-- Django migrated first): it runs CREATE OR REPLACE FUNCTION auth.uid(),
-- auth.role(), auth.email(), auth.jwt() and CREATE TABLE IF NOT EXISTS
-- auth.users as supabase_auth_admin, and replacing a function needs its owner.
--
-- * auth.jwt(): an earlier version created a stand-in, which no policy uses;
--   it goes (only if it is ours: its comment starts with 'versatools:').
-- * Our other stand-ins, and the auth schema if we created it, are handed to
--   supabase_auth_admin where that role exists. A migrating role that may not
--   hand them over (not a member of supabase_auth_admin) gets a warning
--   saying what to run; on plain PostgreSQL there is no such role and nothing
--   to do.
DO $stand_ins$
DECLARE
    fn text;
BEGIN
    IF to_regprocedure('auth.jwt()') IS NOT NULL
       AND coalesce(obj_description(to_regprocedure('auth.jwt()'), 'pg_proc'), '') LIKE 'versatools:%' THEN
        DROP FUNCTION auth.jwt();
    END IF;

    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'supabase_auth_admin') THEN
        RETURN;
    END IF;
    BEGIN
        IF coalesce(obj_description(to_regnamespace('auth'), 'pg_namespace'), '') LIKE 'versatools:%' THEN
            ALTER SCHEMA auth OWNER TO supabase_auth_admin;
        END IF;
        FOREACH fn IN ARRAY ARRAY['auth.uid()', 'auth.role()'] LOOP
            IF to_regprocedure(fn) IS NOT NULL
               AND coalesce(obj_description(to_regprocedure(fn), 'pg_proc'), '') LIKE 'versatools:%' THEN
                EXECUTE format('ALTER FUNCTION %s OWNER TO supabase_auth_admin', fn);
            END IF;
        END LOOP;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'versatools: could not hand the auth stand-ins to supabase_auth_admin (%); '
                      'as a superuser run: ALTER FUNCTION auth.uid() OWNER TO supabase_auth_admin; '
                      'ALTER FUNCTION auth.role() OWNER TO supabase_auth_admin', SQLERRM;
    END;
END
$stand_ins$;
