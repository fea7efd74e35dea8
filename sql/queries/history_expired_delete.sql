-- Run expiry, in one statement per batch: delete expired, finished runs that
-- have no stored object left. Their files went first, through files' own
-- cleanup (a run's files expire with it); an object storage refused to
-- delete, or one someone holds, keeps its run for a later pass.
-- Claimed with FOR UPDATE SKIP LOCKED: parallel passes never take the same
-- run, and a run a worker holds while storing its output (FOR KEY SHARE) is
-- skipped, not waited for. Only COMPLETED and FAILED runs: an unfinished one
-- is failed and refunded by history's services first (history/expiry.py).
-- "= ANY(ARRAY(...))", not "IN (...)": the planner would hash-join a
-- sequential scan of the whole table against the claimed ids in every batch.
-- Keyset on (expires_at, id) so that a pass never takes a run twice; the
-- redundant "expires_at >=" lets history_expires_at_idx start at the cursor.
DELETE FROM history
WHERE id = ANY(ARRAY(
    SELECT h.id
    FROM history AS h
    WHERE h.expires_at <= %(now)s
      AND h.status IN ('COMPLETED', 'FAILED')
      AND (%(after_at)s::timestamptz IS NULL
           OR (h.expires_at >= %(after_at)s::timestamptz
               AND (h.expires_at, h.id) > (%(after_at)s::timestamptz, %(after_id)s::uuid)))
      AND NOT EXISTS (SELECT 1 FROM storage_objects AS so WHERE so.run_id = h.id)
    ORDER BY h.expires_at, h.id
    LIMIT %(size)s
    FOR UPDATE OF h SKIP LOCKED
))
RETURNING id::text AS id, expires_at::text AS expires_at
