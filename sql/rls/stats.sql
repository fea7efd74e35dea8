-- Statistics. Counters are written only by the server (service_role, or
-- Django as the owner) in the run's own transaction: a client that could
-- write them could fake its usage.

-- Per user: the owner reads their own counters.
-- user_stats is keyed by user_id; user_id leads user_daily_usage_unique.
ALTER TABLE public.user_stats ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_daily_usage ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.user_stats, public.user_daily_usage FROM anon, authenticated, service_role;
GRANT SELECT ON public.user_stats, public.user_daily_usage TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.user_stats, public.user_daily_usage TO service_role;

CREATE POLICY user_stats_select_own ON public.user_stats
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY user_stats_service_role_all ON public.user_stats
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);
CREATE POLICY user_daily_usage_select_own ON public.user_daily_usage
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY user_daily_usage_service_role_all ON public.user_daily_usage
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- Global per-tool totals: signed-in users see them ("popular tools"); they
-- hold no user's data. Anonymous visitors do not: nothing on the public
-- pages needs them.
ALTER TABLE public.tool_statistics ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.tool_statistics FROM anon, authenticated, service_role;
GRANT SELECT ON public.tool_statistics TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.tool_statistics TO service_role;

CREATE POLICY tool_statistics_select_authenticated ON public.tool_statistics
    FOR SELECT TO authenticated
    USING (true);
CREATE POLICY tool_statistics_service_role_all ON public.tool_statistics
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- Global per-day per-tool counters are operator analytics: on a quiet day a
-- row can single out one user's activity, so only the server reads them.
ALTER TABLE public.daily_tool_usage ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.daily_tool_usage FROM anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.daily_tool_usage TO service_role;

CREATE POLICY daily_tool_usage_service_role_all ON public.daily_tool_usage
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- Identity sequences: the service role inserts, the others never do.
REVOKE ALL ON SEQUENCE public.user_daily_usage_id_seq, public.daily_tool_usage_id_seq FROM anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE public.user_daily_usage_id_seq, public.daily_tool_usage_id_seq TO service_role;
