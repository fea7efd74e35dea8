-- storage_objects: the owner may list their own objects; only the server
-- (service_role, or Django as the table owner) creates, expires or deletes
-- them, because a row must never disagree with its blob in the bucket.
-- user_id leads storage_objects_user_idx.
ALTER TABLE public.storage_objects ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.storage_objects FROM anon, authenticated, service_role;
GRANT SELECT ON public.storage_objects TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.storage_objects TO service_role;

CREATE POLICY storage_objects_select_own ON public.storage_objects
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY storage_objects_service_role_all ON public.storage_objects
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);
