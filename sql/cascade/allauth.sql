-- The database does what allauth's models tell Django to do on delete, so that
-- a user deleted with raw SQL, from Supabase's dashboard or by seed_demo's
-- reset takes their addresses, confirmations, social accounts and tokens along.
SELECT public.versatools_set_fk_on_delete('public.account_emailaddress', 'user_id', 'CASCADE');
SELECT public.versatools_set_fk_on_delete('public.account_emailconfirmation', 'email_address_id', 'CASCADE');
SELECT public.versatools_set_fk_on_delete('public.socialaccount_socialaccount', 'user_id', 'CASCADE');
SELECT public.versatools_set_fk_on_delete('public.socialaccount_socialtoken', 'account_id', 'CASCADE');
-- SocialToken.app is SET_NULL in the model.
SELECT public.versatools_set_fk_on_delete('public.socialaccount_socialtoken', 'app_id', 'SET NULL');
