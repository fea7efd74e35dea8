-- Drops only what sql/rls/auth_schema.sql created (marked 'versatools:'),
-- never Supabase's own auth functions or schema. A stand-in Supabase's auth
-- server has since replaced (CREATE OR REPLACE keeps the comment, not the
-- body) is Supabase's now: only a body still carrying our line is dropped.
DO $auth$
DECLARE
    fn text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['auth.uid()', 'auth.role()', 'auth.jwt()'] LOOP
        IF to_regprocedure(fn) IS NOT NULL
           AND coalesce(obj_description(to_regprocedure(fn), 'pg_proc'), '') LIKE 'versatools:%'
           AND (SELECT prosrc FROM pg_catalog.pg_proc WHERE oid = to_regprocedure(fn)) LIKE '%versatools stand-in%' THEN
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
