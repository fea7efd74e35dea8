-- Delete expired runs claimed by cleanup, but only those with no StorageObject
-- left: a run's row goes after its blobs, never before (an object another
-- worker still holds keeps its run for the next pass).
DELETE FROM history AS h
WHERE h.id = ANY(%(ids)s::uuid[])
  AND NOT EXISTS (SELECT 1 FROM storage_objects AS so WHERE so.run_id = h.id)
