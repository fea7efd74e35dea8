DROP POLICY IF EXISTS user_stats_select_own ON public.user_stats;
DROP POLICY IF EXISTS user_stats_service_role_all ON public.user_stats;
DROP POLICY IF EXISTS user_daily_usage_select_own ON public.user_daily_usage;
DROP POLICY IF EXISTS user_daily_usage_service_role_all ON public.user_daily_usage;
DROP POLICY IF EXISTS tool_statistics_select_authenticated ON public.tool_statistics;
DROP POLICY IF EXISTS tool_statistics_service_role_all ON public.tool_statistics;
DROP POLICY IF EXISTS daily_tool_usage_service_role_all ON public.daily_tool_usage;
-- Back to PostgreSQL's default (no grants), never Supabase's ALL.
REVOKE ALL ON TABLE public.user_stats, public.user_daily_usage, public.tool_statistics, public.daily_tool_usage
    FROM anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE public.user_daily_usage_id_seq, public.daily_tool_usage_id_seq FROM service_role;
ALTER TABLE public.user_stats DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_daily_usage DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.tool_statistics DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.daily_tool_usage DISABLE ROW LEVEL SECURITY;
