-- See ../credit_balance_open.sql.
INSERT INTO credit_balances (user_id, credits_remaining, last_synced_at, created_at, updated_at)
VALUES (%(user_id)s, %(credits)s, %(now)s, %(now)s, %(now)s)
ON CONFLICT (user_id) DO NOTHING
RETURNING credits_remaining
