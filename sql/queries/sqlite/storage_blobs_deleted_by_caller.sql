-- See ../storage_blobs_deleted_by_caller.sql. SQLite has no transaction-local
-- setting the trigger could read: its storage_objects_deleted trigger always
-- owes the delete (sql/triggers/sqlite/), so a blob this transaction deleted
-- itself is owed once more, and deleting a missing blob again is harmless.
SELECT 'on' AS blobs_deleted_by_caller
