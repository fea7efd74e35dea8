-- The one starting rule, however a user is created: Django (create_user,
-- createsuperuser, the admin, a sign-up form, seed_demo; through
-- billing.services.account_open) or Supabase Auth (the sign-up trigger on
-- auth.users, sql/auth/supabase_link.sql), which no Python code sees.
--
-- A new user is on the default plan (the free plan, key 'free',
-- billing.selectors.FREE_PLAN_KEY) with an ACTIVE subscription and its
-- 'account_opened' event, and a balance holding that plan's credits, written
-- to the ledger as the opening grant (idempotency key 'opening-grant',
-- billing.services.OPENING_GRANT_KEY). Without a plan catalog nothing is
-- opened (the first charge opens the balance).
--
-- Idempotent and safe when two calls race: the subscription is unique per
-- user, the balance is keyed by user, the ledger by (user, key); each insert
-- is ON CONFLICT DO NOTHING, so a second call changes nothing.
-- SECURITY DEFINER with a fixed search_path: the sign-up trigger runs as
-- Supabase's auth server, which may not write these tables. Plumbing, not an
-- /rpc/ endpoint: no API role may execute it.
CREATE OR REPLACE FUNCTION public.versatools_account_open(opened_user_id uuid)
RETURNS TABLE (plan_key text, subscription_created boolean, balance_opened boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    default_plan record;
    created_subscription boolean;
    opened_balance boolean;
BEGIN
    SELECT p.id, p.key, p.credits INTO default_plan FROM public.plans AS p WHERE p.key = 'free';
    IF NOT FOUND THEN
        RETURN QUERY SELECT NULL::text, false, false;
        RETURN;
    END IF;

    INSERT INTO public.subscriptions AS s (id, user_id, plan_id, status, provider, created_at, updated_at)
    VALUES (gen_random_uuid(), opened_user_id, default_plan.id, 'active', 'manual', now(), now())
    ON CONFLICT (user_id) DO NOTHING
    RETURNING true INTO created_subscription;
    IF created_subscription THEN
        INSERT INTO public.subscription_events (user_id, plan_key, status, event_type, occurred_at, metadata, created_at)
        VALUES (opened_user_id, default_plan.key, 'active', 'account_opened', now(), '{}'::jsonb, now());
    END IF;

    INSERT INTO public.credit_balances (user_id, credits_remaining, last_synced_at, created_at, updated_at)
    VALUES (opened_user_id, default_plan.credits, now(), now(), now())
    ON CONFLICT (user_id) DO NOTHING
    RETURNING true INTO opened_balance;
    IF opened_balance AND default_plan.credits > 0 THEN
        INSERT INTO public.credit_ledger (user_id, operation_type, credits, details, run_id, idempotency_key, created_at)
        VALUES (opened_user_id, 'grant', -default_plan.credits, '{"reason": "starting credits"}'::jsonb, NULL,
                'opening-grant', now())
        ON CONFLICT (user_id, idempotency_key) DO NOTHING;
    END IF;

    RETURN QUERY SELECT default_plan.key::text, coalesce(created_subscription, false), coalesce(opened_balance, false);
END;
$$;

REVOKE EXECUTE ON FUNCTION public.versatools_account_open(uuid) FROM PUBLIC, anon, authenticated, service_role;
