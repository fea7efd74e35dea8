-- Billing. Only the server changes money, plans and quotas: the billing
-- services (Django, the table owner) and webhooks running as service_role;
-- no API role may change a usage counter.

-- The plan catalog is public: the pricing page shows active plans to
-- visitors and signed-in users alike; retired plans stay private.
-- plans_active_sort_idx covers the active rows.
ALTER TABLE public.plans ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.plans FROM anon, authenticated, service_role;
GRANT SELECT ON public.plans TO anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.plans TO service_role;

CREATE POLICY plans_select_active ON public.plans
    FOR SELECT TO anon, authenticated
    USING (active);
CREATE POLICY plans_service_role_all ON public.plans
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- Per user: the owner reads their own subscription, its events, their
-- balance, ledger and usage windows. user_id is indexed on each (unique or
-- leading an index; the primary key of credit_balances).
ALTER TABLE public.subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.subscription_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.credit_balances ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.credit_ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.usage_counters ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE
    public.subscriptions, public.subscription_events, public.credit_balances,
    public.credit_ledger, public.usage_counters
FROM anon, authenticated, service_role;
GRANT SELECT ON
    public.subscriptions, public.subscription_events, public.credit_balances,
    public.credit_ledger, public.usage_counters
TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    public.subscriptions, public.subscription_events, public.credit_balances,
    public.credit_ledger, public.usage_counters
TO service_role;

CREATE POLICY subscriptions_select_own ON public.subscriptions
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY subscriptions_service_role_all ON public.subscriptions
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);
CREATE POLICY subscription_events_select_own ON public.subscription_events
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY subscription_events_service_role_all ON public.subscription_events
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);
CREATE POLICY credit_balances_select_own ON public.credit_balances
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY credit_balances_service_role_all ON public.credit_balances
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);
CREATE POLICY credit_ledger_select_own ON public.credit_ledger
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY credit_ledger_service_role_all ON public.credit_ledger
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);
CREATE POLICY usage_counters_select_own ON public.usage_counters
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY usage_counters_service_role_all ON public.usage_counters
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- Operator settings: signed-in users may read them (tool costs and which
-- tools are switched off are shown in the product anyway); only the server
-- writes them.
ALTER TABLE public.admin_settings ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.admin_settings FROM anon, authenticated, service_role;
GRANT SELECT ON public.admin_settings TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.admin_settings TO service_role;

CREATE POLICY admin_settings_select_authenticated ON public.admin_settings
    FOR SELECT TO authenticated
    USING (true);
CREATE POLICY admin_settings_service_role_all ON public.admin_settings
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- Identity sequences: the service role inserts, the others never do.
REVOKE ALL ON SEQUENCE
    public.subscription_events_id_seq, public.credit_ledger_id_seq, public.usage_counters_id_seq
FROM anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE
    public.subscription_events_id_seq, public.credit_ledger_id_seq, public.usage_counters_id_seq
TO service_role;
