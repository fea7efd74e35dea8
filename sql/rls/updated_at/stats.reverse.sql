DROP TRIGGER IF EXISTS user_stats_set_updated_at ON public.user_stats;
DROP TRIGGER IF EXISTS tool_statistics_set_updated_at ON public.tool_statistics;
