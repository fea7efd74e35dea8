-- See ../storage_objects_expired_take.sql. SQLite serializes writers: no row
-- locks. Its trigger owes every deleted row's blob a delete (it has no
-- transaction-local flag to read), so the owed deletes this statement causes
-- are taken back at once: the caller deletes the blobs itself. What is taken
-- waits in a temporary table meanwhile.
CREATE TEMP TABLE IF NOT EXISTS versatools_taken (id TEXT, key TEXT);
DELETE FROM temp.versatools_taken;
INSERT INTO temp.versatools_taken (id, key)
SELECT id, key
FROM storage_objects
WHERE expires_at <= %(now)s
  AND (%(after_at)s IS NULL OR (expires_at, id) > (%(after_at)s, %(after_id)s))
ORDER BY expires_at, id
LIMIT %(size)s;
DELETE FROM storage_objects
WHERE id IN (SELECT id FROM temp.versatools_taken)
RETURNING id, key, provider, bucket, size, expires_at, run_id;
DELETE FROM storage_deletions WHERE key IN (SELECT key FROM temp.versatools_taken)
