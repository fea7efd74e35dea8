DROP POLICY IF EXISTS plans_select_active ON public.plans;
DROP POLICY IF EXISTS plans_service_role_all ON public.plans;
DROP POLICY IF EXISTS subscriptions_select_own ON public.subscriptions;
DROP POLICY IF EXISTS subscriptions_service_role_all ON public.subscriptions;
DROP POLICY IF EXISTS subscription_events_select_own ON public.subscription_events;
DROP POLICY IF EXISTS subscription_events_service_role_all ON public.subscription_events;
DROP POLICY IF EXISTS credit_balances_select_own ON public.credit_balances;
DROP POLICY IF EXISTS credit_balances_service_role_all ON public.credit_balances;
DROP POLICY IF EXISTS credit_ledger_select_own ON public.credit_ledger;
DROP POLICY IF EXISTS credit_ledger_service_role_all ON public.credit_ledger;
DROP POLICY IF EXISTS usage_counters_select_own ON public.usage_counters;
DROP POLICY IF EXISTS usage_counters_service_role_all ON public.usage_counters;
DROP POLICY IF EXISTS admin_settings_select_authenticated ON public.admin_settings;
DROP POLICY IF EXISTS admin_settings_service_role_all ON public.admin_settings;
-- Back to PostgreSQL's default (no grants), never Supabase's ALL.
REVOKE ALL ON TABLE
    public.plans, public.subscriptions, public.subscription_events, public.credit_balances,
    public.credit_ledger, public.usage_counters, public.admin_settings
FROM anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE
    public.subscription_events_id_seq, public.credit_ledger_id_seq, public.usage_counters_id_seq
FROM service_role;
ALTER TABLE public.plans DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.subscriptions DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.subscription_events DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.credit_balances DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.credit_ledger DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.usage_counters DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.admin_settings DISABLE ROW LEVEL SECURITY;
