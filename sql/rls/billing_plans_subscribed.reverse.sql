DROP POLICY IF EXISTS plans_select_subscribed ON public.plans;
