-- See ../run_hold_for_output.sql. SQLite locks the whole database on the first write; no row locks.
SELECT expires_at
FROM history
WHERE id = %(run_id)s AND user_id = %(user_id)s AND expires_at > %(now)s
