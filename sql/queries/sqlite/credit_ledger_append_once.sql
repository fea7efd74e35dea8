-- See ../credit_ledger_append_once.sql.
INSERT INTO credit_ledger (user_id, operation_type, credits, details, run_id, idempotency_key, created_at)
VALUES (%(user_id)s, %(operation_type)s, %(credits)s, %(details)s, %(run_id)s, %(idempotency_key)s, %(now)s)
ON CONFLICT (user_id, idempotency_key) DO NOTHING
RETURNING id
