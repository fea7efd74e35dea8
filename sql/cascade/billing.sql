-- ON DELETE CASCADE for the foreign keys of the billing app to users (and its runs).
SELECT public.versatools_set_fk_on_delete('public.subscriptions', 'user_id', 'CASCADE');
SELECT public.versatools_set_fk_on_delete('public.subscription_events', 'user_id', 'CASCADE');
SELECT public.versatools_set_fk_on_delete('public.credit_balances', 'user_id', 'CASCADE');
SELECT public.versatools_set_fk_on_delete('public.credit_ledger', 'user_id', 'CASCADE');
SELECT public.versatools_set_fk_on_delete('public.usage_counters', 'user_id', 'CASCADE');
