DROP TRIGGER IF EXISTS history_set_updated_at ON public.history;
