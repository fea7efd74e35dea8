-- subscription_events is a subscription's history: rows are added, never
-- changed or removed, by any role. The Data API's service_role loses UPDATE
-- and DELETE (anon and authenticated never had them); the owner, which
-- Django connects as, is stopped by this trigger. A migration that must
-- rewrite history disables the trigger for its own statements. TRUNCATE
-- (Django's test flush; no API role may) fires no row trigger.
-- The rows outlive their user: user_id has no foreign key (billing 0009).
CREATE OR REPLACE FUNCTION public.versatools_subscription_events_append_only()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION 'subscription_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Plumbing, not an /rpc/ endpoint (see rls/functions.sql); a trigger needs no EXECUTE to fire.
REVOKE EXECUTE ON FUNCTION public.versatools_subscription_events_append_only()
    FROM PUBLIC, anon, authenticated, service_role;

CREATE OR REPLACE TRIGGER subscription_events_append_only
    BEFORE UPDATE OR DELETE ON public.subscription_events
    FOR EACH ROW
    EXECUTE FUNCTION public.versatools_subscription_events_append_only();

REVOKE UPDATE, DELETE ON public.subscription_events FROM service_role;
