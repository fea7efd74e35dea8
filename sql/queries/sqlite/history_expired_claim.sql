-- See ../history_expired_claim.sql. SQLite serializes writers: no row locks to take.
SELECT id, expires_at
FROM history
WHERE expires_at <= %(now)s
  AND status IN ('COMPLETED', 'FAILED')
  AND (%(after_at)s IS NULL OR (expires_at, id) > (%(after_at)s, %(after_id)s))
ORDER BY expires_at, id
LIMIT %(size)s
