DROP FUNCTION IF EXISTS public.versatools_set_fk_on_delete(regclass, text, text);
