-- Cleanup takes a batch of expired objects, in one statement: claimed with
-- FOR UPDATE SKIP LOCKED (parallel cleaners never take the same row and never
-- wait for each other; a row someone is deleting or holding is left for a
-- later pass) and deleted at once, returning what their blobs are. Most
-- belong to expired runs: a run's files expire with it (inputs join it with
-- its expiry, outputs take it), so this is where a run's files go; history
-- deletes the runs left empty in the same batch transaction
-- (history_runs_delete_emptied.sql, through the caller's runs_emptied).
-- Nothing is final yet: the caller deletes the blobs and commits only if
-- storage confirmed every one; otherwise it rolls back and forgets just the
-- confirmed ones (storage_cleanup_forget). Deleting here instead of locking
-- here and deleting later writes each row once instead of twice. The caller
-- has set blobs_deleted_by_caller: the storage_objects_deleted trigger gives
-- the bytes back without owing a second delete.
-- "= ANY(ARRAY(...))", not "IN (...)": the planner would hash-join a
-- sequential scan of the whole table against the claimed ids in every batch.
-- Keyset on (expires_at, id) so that a pass never takes a row twice; the
-- redundant "expires_at >=" lets storage_objects_expiry_idx start at the cursor.
DELETE FROM storage_objects
WHERE id = ANY(ARRAY(
    SELECT id
    FROM storage_objects
    WHERE expires_at <= %(now)s
      AND (%(after_at)s::timestamptz IS NULL
           OR (expires_at >= %(after_at)s::timestamptz
               AND (expires_at, id) > (%(after_at)s::timestamptz, %(after_id)s::uuid)))
    ORDER BY expires_at, id
    LIMIT %(size)s
    FOR UPDATE SKIP LOCKED
))
RETURNING id::text AS id, key, provider, bucket, size, expires_at::text AS expires_at, run_id::text AS run_id
