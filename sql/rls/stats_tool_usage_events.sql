-- The tool counters' not-yet-rolled-up tail (stats.models.ToolUsageEvent).
-- Written only by the server in a run's transaction. Signed-in users read
-- it, because GET /api/stats/tools adds it to tool_statistics (which they
-- read) to stay exact: a row holds a tool, a day and counts, no user, and
-- tells no more than polling tool_statistics already does, in real time.
ALTER TABLE public.tool_usage_events ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.tool_usage_events FROM anon, authenticated, service_role;
GRANT SELECT ON public.tool_usage_events TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.tool_usage_events TO service_role;

CREATE POLICY tool_usage_events_select_authenticated ON public.tool_usage_events
    FOR SELECT TO authenticated
    USING (true);
CREATE POLICY tool_usage_events_service_role_all ON public.tool_usage_events
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

REVOKE ALL ON SEQUENCE public.tool_usage_events_id_seq FROM anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE public.tool_usage_events_id_seq TO service_role;
