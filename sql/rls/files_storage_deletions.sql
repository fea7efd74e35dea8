-- storage_deletions: blobs still owed a delete after their row went. Server
-- bookkeeping with no user_id: RLS on, nothing for anon or authenticated, the
-- service role (and Django, the owner) may work the queue.
ALTER TABLE public.storage_deletions ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.storage_deletions FROM anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.storage_deletions TO service_role;

CREATE POLICY storage_deletions_service_role_all ON public.storage_deletions
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

REVOKE ALL ON SEQUENCE public.storage_deletions_id_seq FROM anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE public.storage_deletions_id_seq TO service_role;
