-- users.external_id (accounts 0007): a user reads their own, like every other
-- column of their row but the password (sql/rls/accounts.sql); only the server writes it.
GRANT SELECT (external_id) ON public.users TO authenticated;
