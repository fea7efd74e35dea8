-- Append a ledger entry unless this user already has one with the same
-- idempotency key. Returns the new entry's id, or no row for a replay, so the
-- caller changes the balance only when the entry is new.
INSERT INTO credit_ledger (user_id, operation_type, credits, details, run_id, idempotency_key, created_at)
VALUES (%(user_id)s, %(operation_type)s, %(credits)s, %(details)s::jsonb, %(run_id)s, %(idempotency_key)s, now())
ON CONFLICT (user_id, idempotency_key) DO NOTHING
RETURNING id
