-- Forget StorageObject rows whose blobs storage has confirmed deleted (cleanup,
-- reconcile). Plain SQL, not QuerySet.delete(): the ORM path fires the
-- post_delete signal, which would queue a second delete of the same blobs.
DELETE FROM storage_objects WHERE id = ANY(%(ids)s::uuid[])
