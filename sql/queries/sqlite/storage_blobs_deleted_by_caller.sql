-- See ../storage_blobs_deleted_by_caller.sql. SQLite has no transaction-local
-- setting a trigger can read; the queries that delete rows whose blobs are
-- already gone take back the owed deletes themselves (storage_cleanup_forget,
-- storage_objects_purge_for_runs). Nothing to say here.
SELECT 1 AS noted
