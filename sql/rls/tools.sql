-- The tool catalog (features): public, since the hub shows its cards to
-- visitors too. Unlike a retired plan, a switched-off feature stays readable:
-- its row is what says the tool is off (a reader that could not see it would
-- take the registry's defaults and list the tool). Nothing in it is private.
-- Only the server (Django, the table owner) and service_role change it.
ALTER TABLE public.features ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.features FROM anon, authenticated, service_role;
GRANT SELECT ON public.features TO anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.features TO service_role;

CREATE POLICY features_select_all ON public.features
    FOR SELECT TO anon, authenticated
    USING (true);
CREATE POLICY features_service_role_all ON public.features
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);
