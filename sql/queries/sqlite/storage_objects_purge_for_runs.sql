-- See ../storage_objects_purge_for_runs.sql. The SQLite trigger owes every
-- deleted row's blob a delete (it has no transaction-local flag to read), so
-- the owed deletes this statement causes are taken back at once: the caller
-- deletes the blobs itself. The keys wait in a temporary table meanwhile.
CREATE TEMP TABLE IF NOT EXISTS versatools_purged_keys (key TEXT);
DELETE FROM temp.versatools_purged_keys;
INSERT INTO temp.versatools_purged_keys (key)
SELECT key FROM storage_objects WHERE run_id IN (SELECT value FROM json_each(%(run_ids)s));
DELETE FROM storage_objects
WHERE run_id IN (SELECT value FROM json_each(%(run_ids)s))
RETURNING id, key, provider, bucket, size;
DELETE FROM storage_deletions WHERE key IN (SELECT key FROM temp.versatools_purged_keys);
