DROP TRIGGER IF EXISTS features_set_updated_at ON public.features;
