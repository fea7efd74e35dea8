-- Drops only what sql/rls/auth_schema.sql created (marked 'versatools:'),
-- never Supabase's own auth functions or schema.
DO $auth$
DECLARE
    fn text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['auth.uid()', 'auth.role()', 'auth.jwt()'] LOOP
        IF to_regprocedure(fn) IS NOT NULL
           AND coalesce(obj_description(to_regprocedure(fn), 'pg_proc'), '') LIKE 'versatools:%' THEN
            EXECUTE 'DROP FUNCTION ' || fn;
        END IF;
    END LOOP;

    IF to_regnamespace('auth') IS NOT NULL
       AND coalesce(obj_description(to_regnamespace('auth'), 'pg_namespace'), '') LIKE 'versatools:%'
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace = to_regnamespace('auth'))
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_proc WHERE pronamespace = to_regnamespace('auth')) THEN
        DROP SCHEMA auth;
    END IF;
END
$auth$;
