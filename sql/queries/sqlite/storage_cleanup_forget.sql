-- See ../storage_cleanup_forget.sql, and sqlite/storage_objects_expired_take.sql
-- for why the owed deletes the trigger writes are taken back.
CREATE TEMP TABLE IF NOT EXISTS versatools_purged_keys (key TEXT);
DELETE FROM temp.versatools_purged_keys;
INSERT INTO temp.versatools_purged_keys (key)
SELECT key FROM storage_objects WHERE id IN (SELECT value FROM json_each(%(object_ids)s));
DELETE FROM storage_objects
WHERE id IN (SELECT value FROM json_each(%(object_ids)s))
RETURNING size;
DELETE FROM storage_deletions WHERE key IN (SELECT key FROM temp.versatools_purged_keys);
