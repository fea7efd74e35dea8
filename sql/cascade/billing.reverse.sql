-- Back to Django's default: no database-level action.
SELECT public.versatools_set_fk_on_delete('public.subscriptions', 'user_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.subscription_events', 'user_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.credit_balances', 'user_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.credit_ledger', 'user_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.usage_counters', 'user_id', 'NO ACTION');
