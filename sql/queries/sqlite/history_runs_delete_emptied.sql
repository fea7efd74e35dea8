-- See ../history_runs_delete_emptied.sql. SQLite serializes writers: no row locks.
DELETE FROM history
WHERE id IN (SELECT value FROM json_each(%(run_ids)s))
  AND expires_at <= %(now)s
  AND status IN ('COMPLETED', 'FAILED')
  AND NOT EXISTS (SELECT 1 FROM storage_objects AS so WHERE so.run_id = history.id)
RETURNING id
