DROP TRIGGER IF EXISTS storage_upload_targets_deleted ON public.storage_objects;
DROP FUNCTION IF EXISTS public.versatools_storage_upload_targets_deleted();
