-- Open a user's balance with their starting credits, once. Returns the
-- opening amount when this call created the row, no row when it existed.
INSERT INTO credit_balances (user_id, credits_remaining, last_synced_at, created_at, updated_at)
VALUES (%(user_id)s, %(credits)s, now(), now(), now())
ON CONFLICT (user_id) DO NOTHING
RETURNING credits_remaining
