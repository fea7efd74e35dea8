-- See ../credits_charge.sql. SQLite has no data-modifying CTEs: three
-- statements (SQLite serializes writers, so nothing comes between them), and
-- changes() is the row count of the statement before. An entry is appended
-- only if the UPDATE charged; "charged" is reported as "appended, or this key
-- is already taken" (then the caller aborts, as on PostgreSQL).
UPDATE credit_balances
SET credits_remaining = credits_remaining - %(credits)s,
    updated_at = %(now)s
WHERE user_id = %(user_id)s AND credits_remaining >= %(credits)s;
INSERT INTO credit_ledger (user_id, operation_type, credits, details, run_id, idempotency_key, created_at)
SELECT %(user_id)s, 'tool_run', %(credits)s, %(details)s, %(run_id)s, %(idempotency_key)s, %(now)s
WHERE changes() = 1
ON CONFLICT (user_id, idempotency_key) DO NOTHING;
SELECT changes() > 0
           OR EXISTS (SELECT 1 FROM credit_ledger WHERE user_id = %(user_id)s AND idempotency_key = %(idempotency_key)s)
           AS charged,
       changes() AS appended
