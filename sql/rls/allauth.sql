-- django-allauth's tables (README "Accounts"). They come from a third-party
-- app's migrations, so versatools' 0003 applies this after them.
--
-- Email addresses and connected provider accounts: a signed-in user reads
-- their own; only the server writes them. An API role that could set
-- `verified` would skip the verified-email rule for runs; one that could
-- insert a social account (provider, uid) would sign in as that provider
-- identity's owner. user_id is indexed on both (Django's foreign key index).
ALTER TABLE public.account_emailaddress ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.socialaccount_socialaccount ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.account_emailaddress, public.socialaccount_socialaccount
    FROM anon, authenticated, service_role;
GRANT SELECT ON public.account_emailaddress, public.socialaccount_socialaccount TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.account_emailaddress, public.socialaccount_socialaccount
    TO service_role;

CREATE POLICY account_emailaddress_select_own ON public.account_emailaddress
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY account_emailaddress_service_role_all ON public.account_emailaddress
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);
CREATE POLICY socialaccount_socialaccount_select_own ON public.socialaccount_socialaccount
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY socialaccount_socialaccount_service_role_all ON public.socialaccount_socialaccount
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

-- Secrets only Django uses: providers' access and refresh tokens
-- (socialtoken; not stored at all while SOCIALACCOUNT_STORE_TOKENS is off),
-- OAuth client secrets (socialapp; ours come from settings, so it stays
-- empty) and email confirmation keys (emailconfirmation: whoever holds a key
-- can verify that address). Like django_session: RLS on, no policy and no
-- grant to any API role, service_role included.
ALTER TABLE public.socialaccount_socialtoken ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.socialaccount_socialapp ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.account_emailconfirmation ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE
    public.socialaccount_socialtoken, public.socialaccount_socialapp, public.account_emailconfirmation
FROM anon, authenticated, service_role;

-- Identity sequences: the service role inserts addresses and social accounts, nobody else anything.
REVOKE ALL ON SEQUENCE
    public.account_emailaddress_id_seq, public.socialaccount_socialaccount_id_seq,
    public.socialaccount_socialtoken_id_seq, public.socialaccount_socialapp_id_seq,
    public.account_emailconfirmation_id_seq
FROM anon, authenticated, service_role;
GRANT USAGE, SELECT ON SEQUENCE public.account_emailaddress_id_seq, public.socialaccount_socialaccount_id_seq
    TO service_role;
