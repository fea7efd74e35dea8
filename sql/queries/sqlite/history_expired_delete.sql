-- See ../history_expired_delete.sql. SQLite serializes writers: no row locks.
DELETE FROM history
WHERE id IN (
    SELECT h.id
    FROM history AS h
    WHERE h.expires_at <= %(now)s
      AND h.status IN ('COMPLETED', 'FAILED')
      AND (%(after_at)s IS NULL OR (h.expires_at, h.id) > (%(after_at)s, %(after_id)s))
      AND NOT EXISTS (SELECT 1 FROM storage_objects AS so WHERE so.run_id = h.id)
    ORDER BY h.expires_at, h.id
    LIMIT %(size)s
)
RETURNING id, expires_at
