-- Run expiry, inside files' cleanup batch: of the runs whose objects the
-- batch just took, delete the expired, finished ones left without any object.
-- Same transaction, so the objects the batch deleted are this transaction's
-- own dead rows (cheap to look past), and a rolled-back batch keeps its runs.
-- A run another transaction holds (a worker storing its output) is skipped.
DELETE FROM history
WHERE id = ANY(ARRAY(
    SELECT h.id
    FROM history AS h
    WHERE h.id = ANY(%(run_ids)s::uuid[])
      AND h.expires_at <= %(now)s
      AND h.status IN ('COMPLETED', 'FAILED')
      AND NOT EXISTS (SELECT 1 FROM storage_objects AS so WHERE so.run_id = h.id)
    FOR UPDATE OF h SKIP LOCKED
))
RETURNING id::text AS id
