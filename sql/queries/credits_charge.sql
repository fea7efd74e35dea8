-- Take %(credits)s from the balance and write the charge's ledger entry, in
-- one statement: the conditional UPDATE never lets two charges overspend, and
-- the entry is appended only for a balance that was charged.
-- charged = 0: no balance row or not enough credits (nothing changed).
-- charged = 1, appended = 0: an entry with this idempotency key exists; the
-- caller aborts the transaction, so a debit never stands without its entry.
WITH charged AS (
    UPDATE credit_balances
    SET credits_remaining = credits_remaining - %(credits)s,
        updated_at = now()
    WHERE user_id = %(user_id)s AND credits_remaining >= %(credits)s
    RETURNING user_id
),
appended AS (
    INSERT INTO credit_ledger (user_id, operation_type, credits, details, run_id, idempotency_key, created_at)
    SELECT charged.user_id, 'tool_run', %(credits)s, %(details)s::jsonb, %(run_id)s, %(idempotency_key)s, now()
    FROM charged
    ON CONFLICT (user_id, idempotency_key) DO NOTHING
    RETURNING id
)
SELECT (SELECT count(*) FROM charged) AS charged, (SELECT count(*) FROM appended) AS appended
