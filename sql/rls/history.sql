-- history: the owner reads and deletes their own runs; runs are
-- started and moved through their states only by the server (service_role,
-- or Django itself, which owns the table and is not subject to RLS).
-- user_id leads history_user_newest_idx, so the policy filter is an index scan.
ALTER TABLE public.history ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.history FROM anon, authenticated, service_role;
GRANT SELECT, DELETE ON public.history TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.history TO service_role;

CREATE POLICY history_select_own ON public.history
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY history_delete_own ON public.history
    FOR DELETE TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY history_service_role_all ON public.history
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);
