-- See ../storage_upload_targets_deleted.sql: a deleted row whose key a signed
-- upload target may still write owes it a second delete at
-- upload_writable_until. Datetimes as Django stores them in SQLite: naive UTC text.
CREATE TRIGGER storage_upload_targets_deleted AFTER DELETE ON storage_objects
WHEN OLD.upload_writable_until > strftime('%Y-%m-%d %H:%M:%f', 'now')
BEGIN
    INSERT INTO storage_deletions (provider, bucket, key, created_at, not_before)
    VALUES (OLD.provider, OLD.bucket, OLD.key, strftime('%Y-%m-%d %H:%M:%f', 'now'), OLD.upload_writable_until);
END
