-- ON DELETE CASCADE for the foreign keys of the history app to users (and its runs).
SELECT public.versatools_set_fk_on_delete('public.history', 'user_id', 'CASCADE');
