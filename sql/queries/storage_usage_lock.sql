-- Reconcile's recount, step one (billing): lock every standing storage counter, so that
-- files' count of live bytes (storage_live_bytes, a fresh snapshot at READ COMMITTED) sees
-- every store and delete that committed before it, and those still running
-- wait for it and then apply their own change on top of the corrected figure.
SELECT user_id
FROM usage_counters
WHERE metric = %(metric)s AND window_start = %(window_start)s
ORDER BY user_id
FOR UPDATE
