-- Back to Django's default: no database-level action.
SELECT public.versatools_set_fk_on_delete('public.storage_objects', 'user_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.storage_objects', 'run_id', 'NO ACTION');
