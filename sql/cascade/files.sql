-- ON DELETE CASCADE for the foreign keys of the files app to users (and its runs).
SELECT public.versatools_set_fk_on_delete('public.storage_objects', 'user_id', 'CASCADE');
SELECT public.versatools_set_fk_on_delete('public.storage_objects', 'run_id', 'CASCADE');
