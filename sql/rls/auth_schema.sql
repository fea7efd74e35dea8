-- Schema auth with auth.uid() and auth.role(), created only where
-- absent: on Supabase they exist (owned by supabase_auth_admin) and are never
-- replaced; on plain PostgreSQL these stand-ins let the same policies run.
--
-- They read the JWT claims the way PostgREST publishes them: the JSON in
-- `request.jwt.claims` (PostgREST 9+, and versatools.rls), falling back to
-- the older one-setting-per-claim `request.jwt.claim.sub` / `.role`.
-- Supabase's definitions read the same two settings (the legacy one first);
-- as a caller only ever sets one of them, the results agree.
--
-- Everything created here carries a comment starting with 'versatools:' so
-- that the reverse drops only what this file created. No auth.jwt(): no
-- policy needs it, and a stand-in owned by us would make Supabase's auth
-- server fail its own migration later ("must be owner of function jwt").
-- What is created here is handed to supabase_auth_admin where that role
-- exists (sql/rls/auth_stand_ins_replaceable.sql), for the same reason.
DO $auth$
BEGIN
    IF to_regnamespace('auth') IS NULL THEN
        CREATE SCHEMA auth;
        COMMENT ON SCHEMA auth IS 'versatools: stand-in for Supabase''s auth schema (sql/rls/auth_schema.sql)';
        GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
    END IF;

    IF to_regprocedure('auth.uid()') IS NULL THEN
        CREATE FUNCTION auth.uid() RETURNS uuid
        LANGUAGE sql STABLE
        AS $fn$
            -- versatools stand-in (the reverse drops only a body still carrying this line)
            SELECT coalesce(
                nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub',
                nullif(current_setting('request.jwt.claim.sub', true), '')
            )::uuid
        $fn$;
        COMMENT ON FUNCTION auth.uid() IS 'versatools: the JWT''s sub, like Supabase''s auth.uid()';
    END IF;

    IF to_regprocedure('auth.role()') IS NULL THEN
        CREATE FUNCTION auth.role() RETURNS text
        LANGUAGE sql STABLE
        AS $fn$
            -- versatools stand-in (the reverse drops only a body still carrying this line)
            SELECT coalesce(
                nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role',
                nullif(current_setting('request.jwt.claim.role', true), '')
            )::text
        $fn$;
        COMMENT ON FUNCTION auth.role() IS 'versatools: the JWT''s role, like Supabase''s auth.role()';
    END IF;

END
$auth$;
