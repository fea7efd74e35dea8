-- See ../run_hold_for_output.sql. SQLite locks the whole database on the first write; no row locks.
-- As text (naive UTC, how Django stores it): a typed column comes back a naive datetime.
SELECT CAST(expires_at AS TEXT) AS expires_at
FROM history
WHERE id = %(run_id)s AND user_id = %(user_id)s AND expires_at > %(now)s
