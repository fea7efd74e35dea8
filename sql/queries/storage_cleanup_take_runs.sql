-- Cleanup takes a batch of expired, finished runs with their object rows, in
-- one statement: claimed with FOR UPDATE SKIP LOCKED (parallel cleaners never
-- take the same run and never wait for each other's runs) and deleted
-- together with their objects; the storage_objects_deleted trigger gives
-- their bytes back to each owner's quota (the caller has set
-- blobs_deleted_by_caller: it deletes the blobs itself).
-- Only COMPLETED and FAILED runs: one still PENDING or PROCESSING when its
-- time runs out keeps its credits until the stuck-run reaper fails and
-- refunds it; the next pass takes it then.
-- Nothing is final yet: the caller deletes the blobs and commits only if
-- storage confirmed every one; otherwise it rolls back and forgets just the
-- confirmed ones (storage_cleanup_forget). Deleting here instead of locking
-- here and deleting later writes each row once instead of twice.
-- An object row another transaction holds (a cleaner deleting it, a user
-- deleting it) is waited for, then taken if still there.
-- Keyset on (expires_at, id) so that a pass never takes a run twice; the
-- redundant "expires_at >=" lets history_expires_at_idx start at the cursor.
-- Ids and the cursor come back as text: they only travel into later statements.
WITH runs AS (
    DELETE FROM history
    WHERE id IN (
        SELECT id
        FROM history
        WHERE expires_at <= %(now)s
          AND status IN ('COMPLETED', 'FAILED')
          AND (%(after_at)s::timestamptz IS NULL
               OR (expires_at >= %(after_at)s::timestamptz
                   AND (expires_at, id) > (%(after_at)s::timestamptz, %(after_id)s::uuid)))
        ORDER BY expires_at, id
        LIMIT %(size)s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, expires_at
),
objects AS (
    DELETE FROM storage_objects
    WHERE run_id IN (SELECT id FROM runs)
    RETURNING id, run_id, key, provider, bucket, user_id, size
)
SELECT runs.id::text AS run_id, runs.expires_at::text AS run_expires_at, objects.id::text AS object_id,
       objects.key, objects.provider, objects.bucket, coalesce(objects.size, 0) AS size
FROM runs
LEFT JOIN objects ON objects.run_id = runs.id
ORDER BY runs.expires_at, runs.id
