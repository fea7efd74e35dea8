-- Back to Django's default: no database-level action.
SELECT public.versatools_set_fk_on_delete('public.user_stats', 'user_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.user_daily_usage', 'user_id', 'NO ACTION');
