-- updated_at kept right on UPDATE for the stats app's tables (see function.sql).
CREATE TRIGGER user_stats_set_updated_at BEFORE UPDATE ON public.user_stats
    FOR EACH ROW EXECUTE FUNCTION public.versatools_set_updated_at();
CREATE TRIGGER tool_statistics_set_updated_at BEFORE UPDATE ON public.tool_statistics
    FOR EACH ROW EXECUTE FUNCTION public.versatools_set_updated_at();
