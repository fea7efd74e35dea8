DROP TRIGGER IF EXISTS storage_objects_deleted ON public.storage_objects;
DROP FUNCTION IF EXISTS public.versatools_storage_objects_deleted();
