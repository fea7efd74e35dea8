-- Back to Django's default: no database-level action.
SELECT public.versatools_set_fk_on_delete('public.users_groups', 'user_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.users_user_permissions', 'user_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.django_admin_log', 'user_id', 'NO ACTION');
