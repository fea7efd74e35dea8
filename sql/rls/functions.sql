-- Our helper functions in public are migration and trigger plumbing, not API
-- endpoints: PostgREST exposes every function the caller may EXECUTE as
-- /rpc/<name>, and PostgreSQL (and Supabase's default privileges) grant
-- EXECUTE to everyone. Trigger functions need no EXECUTE privilege to fire.
REVOKE EXECUTE ON FUNCTION public.versatools_set_fk_on_delete(regclass, text, text)
    FROM PUBLIC, anon, authenticated, service_role;
REVOKE EXECUTE ON FUNCTION public.versatools_set_updated_at()
    FROM PUBLIC, anon, authenticated, service_role;
