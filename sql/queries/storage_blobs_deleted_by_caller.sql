-- This transaction deletes blobs itself before their rows (cleanup, reconcile,
-- an abandoned store): the storage_objects_deleted trigger must not owe them a
-- second delete. Transaction-local (is_local = true): it ends with the
-- transaction, so it never leaks to the next user of a pooled connection.
SELECT set_config('versatools.blobs_deleted_by_caller', 'on', true)
