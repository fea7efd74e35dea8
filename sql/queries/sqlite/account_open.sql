-- See ../../functions/account_open.sql: the same starting rule, statement by
-- statement. SQLite serializes writers, so "created by this call" is read off
-- changes() right after each INSERT OR IGNORE, kept in a temporary table.
CREATE TEMP TABLE IF NOT EXISTS versatools_account_opened (subscription_created INTEGER, balance_opened INTEGER);
DELETE FROM temp.versatools_account_opened;
INSERT OR IGNORE INTO subscriptions (id, user_id, plan_id, status, provider, created_at, updated_at)
SELECT lower(hex(randomblob(16))), %(user_id)s, id, 'active', 'manual', %(now)s, %(now)s FROM plans WHERE key = 'free';
INSERT INTO temp.versatools_account_opened (subscription_created, balance_opened) VALUES (changes(), 0);
INSERT INTO subscription_events (user_id, plan_key, status, event_type, occurred_at, metadata, created_at)
SELECT %(user_id)s, 'free', 'active', 'account_opened', %(now)s, '{}', %(now)s
WHERE (SELECT subscription_created FROM temp.versatools_account_opened) = 1;
INSERT OR IGNORE INTO credit_balances (user_id, credits_remaining, last_synced_at, created_at, updated_at)
SELECT %(user_id)s, credits, %(now)s, %(now)s, %(now)s FROM plans WHERE key = 'free';
UPDATE temp.versatools_account_opened SET balance_opened = changes();
INSERT OR IGNORE INTO credit_ledger (user_id, operation_type, credits, details, run_id, idempotency_key, created_at)
SELECT %(user_id)s, 'grant', -credits, '{"reason": "starting credits"}', NULL, 'opening-grant', %(now)s
FROM plans
WHERE key = 'free' AND credits > 0 AND (SELECT balance_opened FROM temp.versatools_account_opened) = 1;
SELECT (SELECT key FROM plans WHERE key = 'free') AS plan_key,
       subscription_created,
       balance_opened
FROM temp.versatools_account_opened;
