DROP FUNCTION IF EXISTS public.versatools_account_open(uuid);
