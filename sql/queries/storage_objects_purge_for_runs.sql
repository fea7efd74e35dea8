-- Run expiry, files' part: delete the object rows of runs history has claimed
-- (and holds), returning what their blobs are. The caller deletes the blobs
-- next, in the same transaction, and commits only if storage confirmed every
-- one; otherwise it rolls back and forgets just the confirmed ones
-- (storage_objects_forget). Deleting here instead of locking here and deleting
-- later writes each row once instead of twice. The caller has set
-- blobs_deleted_by_caller: the storage_objects_deleted trigger gives the bytes
-- back without owing a second delete.
DELETE FROM storage_objects
WHERE run_id = ANY(%(run_ids)s::uuid[])
RETURNING id::text AS id, key, provider, bucket, size
