DROP POLICY history_delete_own ON public.history;
CREATE POLICY history_delete_own ON public.history
    FOR DELETE TO authenticated
    USING (user_id = (SELECT auth.uid()));
