-- updated_at kept right on UPDATE for the files app's tables (see function.sql).
CREATE TRIGGER storage_objects_set_updated_at BEFORE UPDATE ON public.storage_objects
    FOR EACH ROW EXECUTE FUNCTION public.versatools_set_updated_at();
