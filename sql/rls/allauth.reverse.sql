DROP POLICY IF EXISTS account_emailaddress_select_own ON public.account_emailaddress;
DROP POLICY IF EXISTS account_emailaddress_service_role_all ON public.account_emailaddress;
DROP POLICY IF EXISTS socialaccount_socialaccount_select_own ON public.socialaccount_socialaccount;
DROP POLICY IF EXISTS socialaccount_socialaccount_service_role_all ON public.socialaccount_socialaccount;
-- Back to PostgreSQL's default (no grants), never Supabase's ALL: a table
-- without RLS must not be open to the Data API.
REVOKE ALL ON TABLE
    public.account_emailaddress, public.socialaccount_socialaccount, public.socialaccount_socialtoken,
    public.socialaccount_socialapp, public.account_emailconfirmation
FROM anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE public.account_emailaddress_id_seq, public.socialaccount_socialaccount_id_seq
    FROM service_role;
ALTER TABLE public.account_emailaddress DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.socialaccount_socialaccount DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.socialaccount_socialtoken DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.socialaccount_socialapp DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.account_emailconfirmation DISABLE ROW LEVEL SECURITY;
