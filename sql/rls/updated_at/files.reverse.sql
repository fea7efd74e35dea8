DROP TRIGGER IF EXISTS storage_objects_set_updated_at ON public.storage_objects;
