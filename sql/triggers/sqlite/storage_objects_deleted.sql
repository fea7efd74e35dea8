-- See ../storage_objects_deleted.sql: the same bookkeeping for the zero-setup
-- SQLite database, one row at a time (SQLite has no transition tables), and
-- always owing the delete (cleanup, the one caller that deletes blobs first,
-- needs PostgreSQL). Datetimes as Django stores them in SQLite: naive UTC text.
-- IF NOT EXISTS: files 0010 puts it back after a table rebuild that may have dropped it.
CREATE TRIGGER IF NOT EXISTS storage_objects_deleted AFTER DELETE ON storage_objects
BEGIN
    INSERT INTO storage_deletions (provider, bucket, key, created_at)
    VALUES (OLD.provider, OLD.bucket, OLD.key, strftime('%Y-%m-%d %H:%M:%f', 'now'));
    UPDATE usage_counters
    SET count = max(count - OLD.size, 0),
        updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
    WHERE user_id = OLD.user_id
      AND metric = 'storage_bytes'
      AND window_start = '2000-01-01 00:00:00';
END
