-- Back to Django's default: no database-level action.
SELECT public.versatools_set_fk_on_delete('public.history', 'user_id', 'NO ACTION');
