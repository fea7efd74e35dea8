-- updated_at kept right on UPDATE for the accounts app's tables (see function.sql).
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.versatools_set_updated_at();
