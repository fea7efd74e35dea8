-- A signed-in user also reads the plan they are subscribed to, retired
-- (active = false) or not: their dashboard, read under RLS, must show the
-- plan whose limits are enforced on them. Permissive policies add up, so
-- plans_select_active still covers the catalog.
CREATE POLICY plans_select_subscribed ON public.plans
    FOR SELECT TO authenticated
    USING (id IN (SELECT subscriptions.plan_id FROM public.subscriptions
                  WHERE subscriptions.user_id = (SELECT auth.uid())));
