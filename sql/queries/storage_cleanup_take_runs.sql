-- Cleanup claims a batch of expired runs and the objects stored for them, in
-- one round trip. SKIP LOCKED on both: parallel cleaners never take the same
-- row and never wait for each other. Holding the runs FOR UPDATE also holds
-- off new objects for them (their foreign key check needs a share lock).
-- Keyset on (expires_at, id) so that a pass never claims a run twice; the
-- redundant "expires_at >=" lets history_expires_at_idx start at the cursor.
-- Ids and the cursor come back as text: they only travel into the next statement.
WITH runs AS (
    SELECT id, expires_at
    FROM history
    WHERE expires_at <= %(now)s
      AND (%(after_at)s::timestamptz IS NULL
           OR (expires_at >= %(after_at)s::timestamptz
               AND (expires_at, id) > (%(after_at)s::timestamptz, %(after_id)s::uuid)))
    ORDER BY expires_at, id
    LIMIT %(size)s
    FOR UPDATE SKIP LOCKED
),
objects AS (
    SELECT id, run_id, key, provider, bucket
    FROM storage_objects
    WHERE run_id IN (SELECT id FROM runs)
    FOR UPDATE SKIP LOCKED
)
SELECT runs.id::text, runs.expires_at::text, objects.id::text, objects.key, objects.provider, objects.bucket
FROM runs
LEFT JOIN objects ON objects.run_id = runs.id
ORDER BY runs.expires_at, runs.id
