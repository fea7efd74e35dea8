-- Through the Data API an owner deletes only finished runs. A PENDING or
-- PROCESSING run still holds credits that only the app can give back (its
-- DELETE /api/history/{id} fails the run, refunding it, then deletes it); a
-- raw DELETE of it would keep the charge for a run that never ran. The policy
-- simply does not match such a row: the delete affects 0 rows, no error.
DROP POLICY history_delete_own ON public.history;
-- Written as PostgreSQL prints it back (text, not varchar, literals), so that a
-- dump and restore reproduces the policy to the letter (test_backup compares).
CREATE POLICY history_delete_own ON public.history
    FOR DELETE TO authenticated
    USING (user_id = (SELECT auth.uid()) AND (status)::text = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text]));
