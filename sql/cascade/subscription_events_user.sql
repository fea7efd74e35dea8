-- subscription_events.user_id's foreign key back to ON DELETE CASCADE, as
-- billing 0002 had it: run by billing 0009's reverse, after Django put the
-- constraint back.
SELECT public.versatools_set_fk_on_delete('public.subscription_events', 'user_id', 'CASCADE');
