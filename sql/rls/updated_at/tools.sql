-- updated_at kept right on UPDATE for the tools app's table (see function.sql).
CREATE TRIGGER features_set_updated_at BEFORE UPDATE ON public.features
    FOR EACH ROW EXECUTE FUNCTION public.versatools_set_updated_at();
