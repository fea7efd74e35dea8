DROP TRIGGER IF EXISTS plans_set_updated_at ON public.plans;
DROP TRIGGER IF EXISTS subscriptions_set_updated_at ON public.subscriptions;
DROP TRIGGER IF EXISTS credit_balances_set_updated_at ON public.credit_balances;
DROP TRIGGER IF EXISTS usage_counters_set_updated_at ON public.usage_counters;
DROP TRIGGER IF EXISTS admin_settings_set_updated_at ON public.admin_settings;
