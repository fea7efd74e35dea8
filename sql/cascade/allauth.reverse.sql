-- Back to Django's default: no database-level action.
SELECT public.versatools_set_fk_on_delete('public.account_emailaddress', 'user_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.account_emailconfirmation', 'email_address_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.socialaccount_socialaccount', 'user_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.socialaccount_socialtoken', 'account_id', 'NO ACTION');
SELECT public.versatools_set_fk_on_delete('public.socialaccount_socialtoken', 'app_id', 'NO ACTION');
