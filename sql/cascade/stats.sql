-- ON DELETE CASCADE for the foreign keys of the stats app to users (and its runs).
SELECT public.versatools_set_fk_on_delete('public.user_stats', 'user_id', 'CASCADE');
SELECT public.versatools_set_fk_on_delete('public.user_daily_usage', 'user_id', 'CASCADE');
