-- The demo users' credit history, consistent with their runs: each user's
-- charges of a day in one entry and the refunds of their failed runs of that
-- day in another (the lifecycle writes one entry per run; a million demo
-- runs would double the seeding time for rows nobody reads one by one), and
-- an opening grant sized so that every balance ends at a small deterministic
-- remainder (never below zero).
INSERT INTO credit_ledger (user_id, operation_type, credits, details, run_id, idempotency_key, created_at)
SELECT user_id, 'tool_run', sum(credits_charged), jsonb_build_object('runs', count(*), 'demo', true), NULL,
       'demo-charges:' || day, max(created_at)
FROM (SELECT user_id, credits_charged, created_at, (created_at AT TIME ZONE 'UTC')::date AS day
      FROM history WHERE user_id = ANY(%(users)s::uuid[]) AND credits_charged > 0) AS charged
GROUP BY user_id, day;

INSERT INTO credit_ledger (user_id, operation_type, credits, details, run_id, idempotency_key, created_at)
SELECT user_id, 'refund', -sum(credits_charged), jsonb_build_object('runs', count(*), 'demo', true), NULL,
       'demo-refunds:' || day, max(finished_at)
FROM (SELECT user_id, credits_charged, finished_at, (created_at AT TIME ZONE 'UTC')::date AS day
      FROM history
      WHERE user_id = ANY(%(users)s::uuid[]) AND status = 'FAILED' AND credits_charged > 0) AS refunded
GROUP BY user_id, day;

WITH spent AS (
    SELECT user_id, sum(credits) AS net FROM credit_ledger
    WHERE user_id = ANY(%(users)s::uuid[]) GROUP BY user_id
)
INSERT INTO credit_ledger (user_id, operation_type, credits, details, run_id, idempotency_key, created_at)
SELECT u.id, 'grant',
       -(COALESCE(s.net, 0) + mod(('x' || substr(md5(%(seed)s || ':credits:' || u.id), 1, 6))::bit(24)::int, 300) + 5),
       '{"reason": "demo starting credits"}'::jsonb, NULL, 'opening-grant', %(anchor)s::timestamptz - interval '31 days'
FROM unnest(%(users)s::uuid[]) AS u(id)
LEFT JOIN spent s ON s.user_id = u.id;

INSERT INTO credit_balances (user_id, credits_remaining, last_synced_at, created_at, updated_at)
SELECT user_id, -sum(credits), %(anchor)s::timestamptz, %(anchor)s::timestamptz, %(anchor)s::timestamptz
FROM credit_ledger
WHERE user_id = ANY(%(users)s::uuid[])
GROUP BY user_id;
