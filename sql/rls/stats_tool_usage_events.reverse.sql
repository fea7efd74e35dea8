DROP POLICY IF EXISTS tool_usage_events_select_authenticated ON public.tool_usage_events;
DROP POLICY IF EXISTS tool_usage_events_service_role_all ON public.tool_usage_events;
REVOKE ALL ON TABLE public.tool_usage_events FROM anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE public.tool_usage_events_id_seq FROM service_role;
ALTER TABLE public.tool_usage_events DISABLE ROW LEVEL SECURITY;
