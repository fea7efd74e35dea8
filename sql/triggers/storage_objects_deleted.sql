-- Whatever deletes storage_objects rows (Django, the ON DELETE CASCADE from a
-- deleted run or user, raw SQL, Supabase's Data API under RLS), the database
-- itself records what that costs, in the deleting transaction:
--
-- * each blob is owed a delete (a storage_deletions row), so no blob outlives
--   its row unseen: the delete is done after commit by the app, or by the next
--   cleanup pass;
-- * the owner's storage quota gets the bytes back, through billing's one
--   writer of it, public.versatools_storage_usage_release
--   (sql/functions/storage_usage_release.sql), for all owners at once.
--
-- Python signals could do neither for a cascade or a delete made outside
-- Django: an FK cascade fires no signal, which is how output rows committed
-- after Django's collector looked used to vanish with their quota.
--
-- A caller that has already deleted the blobs itself (cleanup and reconcile:
-- blob first, then the row) says so for its transaction with
-- set_config('versatools.blobs_deleted_by_caller', 'on', true)
-- (sql/queries/storage_blobs_deleted_by_caller.sql); the quota is given back
-- either way. Transaction-local, so safe through PgBouncer's transaction mode.
--
-- One statement-level trigger with a transition table: a cleanup batch of
-- 1,000 rows costs one INSERT and one release for all its owners, not 1,000 of each.
-- SECURITY DEFINER with a fixed search_path: a user deleting their own run
-- through the Data API cannot write either table, but what they delete must
-- still be accounted for.
CREATE OR REPLACE FUNCTION public.versatools_storage_objects_deleted()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
    -- An FK cascade runs one DELETE per deleted parent row, and cleanup's
    -- claiming statement deletes the objects itself before the cascade looks:
    -- most firings see no row at all, and should cost nothing.
    IF NOT EXISTS (SELECT 1 FROM gone) THEN
        RETURN NULL;
    END IF;
    IF coalesce(current_setting('versatools.blobs_deleted_by_caller', true), '') <> 'on' THEN
        INSERT INTO public.storage_deletions (provider, bucket, key, created_at)
        SELECT gone.provider, gone.bucket, gone.key, now() FROM gone;
    END IF;
    PERFORM public.versatools_storage_usage_release(array_agg(freed.user_id), array_agg(freed.amount))
    FROM (SELECT gone.user_id, sum(gone.size)::bigint AS amount FROM gone GROUP BY gone.user_id) AS freed;
    RETURN NULL;
END;
$$;

-- Plumbing, not an /rpc/ endpoint (see rls/functions.sql); a trigger needs no EXECUTE to fire.
REVOKE EXECUTE ON FUNCTION public.versatools_storage_objects_deleted()
    FROM PUBLIC, anon, authenticated, service_role;

CREATE OR REPLACE TRIGGER storage_objects_deleted
    AFTER DELETE ON public.storage_objects
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT
    EXECUTE FUNCTION public.versatools_storage_objects_deleted();
