DROP TRIGGER IF EXISTS subscription_events_append_only ON public.subscription_events;
DROP FUNCTION IF EXISTS public.versatools_subscription_events_append_only();
GRANT UPDATE, DELETE ON public.subscription_events TO service_role;
-- Back to a foreign key with ON DELETE CASCADE (billing 0009's reverse): the
-- events of users deleted meanwhile, and those of no user, go as that
-- cascade would have taken them.
DELETE FROM public.subscription_events AS event
WHERE event.user_id IS NULL
   OR NOT EXISTS (SELECT 1 FROM public.users AS person WHERE person.id = event.user_id);
