-- Billing's one writer of storage quota given back: many owners at once, one
-- statement. The storage_objects_deleted trigger (files) calls it for every
-- statement that deletes object rows, with each owner's freed bytes summed.
-- The quota is the standing usage counter 'storage_bytes' whose one window
-- starts 2000-01-01 (billing.selectors STORAGE_METRIC, STORAGE_WINDOW); it
-- never goes below zero.
-- SECURITY DEFINER with a fixed search_path, like the trigger that calls it;
-- plumbing, not an /rpc/ endpoint: no role but the owner may execute it.
CREATE OR REPLACE FUNCTION public.versatools_storage_usage_release(freed_user_ids uuid[], freed_bytes bigint[])
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    UPDATE public.usage_counters AS uc
    SET count = greatest(uc.count - freed.amount, 0),
        updated_at = now()
    FROM unnest(freed_user_ids, freed_bytes) AS freed(user_id, amount)
    WHERE uc.user_id = freed.user_id
      AND uc.metric = 'storage_bytes'
      AND uc.window_start = '2000-01-01 00:00:00+00';
$$;

REVOKE EXECUTE ON FUNCTION public.versatools_storage_usage_release(uuid[], bigint[])
    FROM PUBLIC, anon, authenticated, service_role;
