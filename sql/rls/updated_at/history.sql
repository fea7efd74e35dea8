-- updated_at kept right on UPDATE for the history app's tables (see function.sql).
CREATE TRIGGER history_set_updated_at BEFORE UPDATE ON public.history
    FOR EACH ROW EXECUTE FUNCTION public.versatools_set_updated_at();
