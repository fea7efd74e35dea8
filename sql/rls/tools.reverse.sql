DROP POLICY IF EXISTS features_select_all ON public.features;
DROP POLICY IF EXISTS features_service_role_all ON public.features;
REVOKE ALL ON TABLE public.features FROM anon, authenticated, service_role;
ALTER TABLE public.features DISABLE ROW LEVEL SECURITY;
