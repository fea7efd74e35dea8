-- The last step of run expiry: delete the claimed runs that have no stored
-- object left. Their objects went first, through files
-- (storage_objects_purge_for_runs, or the forget after a partial storage
-- failure); an object storage refused to delete keeps its run for a later pass.
DELETE FROM history AS h
WHERE h.id = ANY(%(run_ids)s::uuid[])
  AND NOT EXISTS (SELECT 1 FROM storage_objects AS so WHERE so.run_id = h.id)
RETURNING h.id::text AS id
