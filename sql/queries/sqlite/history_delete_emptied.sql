-- See ../history_delete_emptied.sql.
DELETE FROM history
WHERE id IN (SELECT value FROM json_each(%(run_ids)s))
  AND NOT EXISTS (SELECT 1 FROM storage_objects AS so WHERE so.run_id = history.id)
RETURNING id
