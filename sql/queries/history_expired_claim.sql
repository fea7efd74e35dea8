-- Run expiry takes a batch of expired, finished runs: claimed with FOR UPDATE
-- SKIP LOCKED, so parallel expiry passes never take the same run and never
-- wait for each other. The claim holds them (the lock order: the run first)
-- while files deletes their objects' blobs and rows
-- (storage_objects_purge_for_runs) and history_delete_emptied deletes them.
-- Only COMPLETED and FAILED runs: an unfinished one is failed and refunded by
-- history's services first (history/expiry.py), and taken by the next batch.
-- Keyset on (expires_at, id) so that a pass never takes a run twice; the
-- redundant "expires_at >=" lets history_expires_at_idx start at the cursor.
-- Ids and the cursor come back as text: they only travel into later statements.
SELECT id::text AS id, expires_at::text AS expires_at
FROM history
WHERE expires_at <= %(now)s
  AND status IN ('COMPLETED', 'FAILED')
  AND (%(after_at)s::timestamptz IS NULL
       OR (expires_at >= %(after_at)s::timestamptz
           AND (expires_at, id) > (%(after_at)s::timestamptz, %(after_id)s::uuid)))
ORDER BY expires_at, id
LIMIT %(size)s
FOR UPDATE SKIP LOCKED
