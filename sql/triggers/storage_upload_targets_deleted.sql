-- A direct upload's signed target (POST /api/uploads) keeps working until it
-- expires, whatever happens to its row, and an upload begun before then may
-- land later still: a client can write the key again after the row and its
-- blob are gone (the run deleted, the reservation cancelled, refused or
-- expired). So whatever deletes such a row while the key may still be
-- written (upload_writable_until: the target's expiry plus a transfer
-- margin) owes the key a second delete, due at that time
-- (storage_deletions.not_before). The first delete, now, is the
-- storage_objects_deleted trigger's; this one finds nothing there unless the
-- target was used again. Kept apart from that trigger: a different reason,
-- and most deletes (uploads through the app) have no target and cost one
-- EXISTS here.
CREATE OR REPLACE FUNCTION public.versatools_storage_upload_targets_deleted()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
    INSERT INTO public.storage_deletions (provider, bucket, key, created_at, not_before)
    SELECT gone.provider, gone.bucket, gone.key, now(), gone.upload_writable_until
    FROM gone
    WHERE gone.upload_writable_until > now();
    RETURN NULL;
END;
$$;

-- Plumbing, not an /rpc/ endpoint (see rls/functions.sql); a trigger needs no EXECUTE to fire.
REVOKE EXECUTE ON FUNCTION public.versatools_storage_upload_targets_deleted()
    FROM PUBLIC, anon, authenticated, service_role;

CREATE OR REPLACE TRIGGER storage_upload_targets_deleted
    AFTER DELETE ON public.storage_objects
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT
    EXECUTE FUNCTION public.versatools_storage_upload_targets_deleted();
