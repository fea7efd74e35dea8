-- Forget the object rows whose blobs storage confirmed gone (cleanup,
-- reconcile, an abandoned store). The storage_objects_deleted trigger gives
-- the bytes back to each owner's quota; the caller has set
-- blobs_deleted_by_caller first, so no second delete is owed for blobs that
-- are already gone. Runs are history's: it deletes those left empty itself.
DELETE FROM storage_objects
WHERE id = ANY(%(object_ids)s::uuid[])
RETURNING size
