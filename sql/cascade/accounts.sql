-- ON DELETE CASCADE for the foreign keys of the accounts app to users (and its runs).
SELECT public.versatools_set_fk_on_delete('public.users_groups', 'user_id', 'CASCADE');
SELECT public.versatools_set_fk_on_delete('public.users_user_permissions', 'user_id', 'CASCADE');
SELECT public.versatools_set_fk_on_delete('public.django_admin_log', 'user_id', 'CASCADE');
