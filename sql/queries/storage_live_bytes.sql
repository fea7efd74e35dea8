-- Reconcile's recount, files' part: the bytes of each user's live object rows
-- (the rows are the truth: a row is written with its bytes counted, and
-- deleting it gives them back in the same transaction). Read after billing
-- has locked the counters (storage_usage_lock), so it sees every store and
-- delete that committed before; billing then sets the counters
-- (storage_usage_recount).
SELECT user_id::text AS user_id, sum(size)::bigint AS bytes
FROM storage_objects
GROUP BY user_id
