DROP FUNCTION IF EXISTS public.versatools_set_updated_at();
