DROP FUNCTION IF EXISTS public.versatools_storage_usage_release(uuid[], bigint[]);
