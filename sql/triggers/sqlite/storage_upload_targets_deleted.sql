-- See ../storage_upload_targets_deleted.sql: a deleted row whose signed
-- upload target still works owes its key a second delete once the target
-- has expired. Datetimes as Django stores them in SQLite: naive UTC text.
CREATE TRIGGER storage_upload_targets_deleted AFTER DELETE ON storage_objects
WHEN OLD.upload_target_expires_at > strftime('%Y-%m-%d %H:%M:%f', 'now')
BEGIN
    INSERT INTO storage_deletions (provider, bucket, key, created_at, not_before)
    VALUES (OLD.provider, OLD.bucket, OLD.key, strftime('%Y-%m-%d %H:%M:%f', 'now'), OLD.upload_target_expires_at);
END
