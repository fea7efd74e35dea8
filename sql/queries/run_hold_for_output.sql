-- Before a run's output is recorded, hold the run: FOR KEY SHARE, in the
-- transaction that will count the bytes and insert the object row. Lock
-- order (history/services.py): the run first, then the user's counters. A
-- delete of the run locks it FOR UPDATE before anything else, so it either
-- waits for this store to commit (and then takes the new row with it) or
-- makes this find nothing; it never holds the storage counter while waiting
-- for the run, which is the deadlock this replaces. KEY SHARE does not block
-- status changes (a reaper failing the run meanwhile), only deletion.
SELECT expires_at
FROM history
WHERE id = %(run_id)s AND user_id = %(user_id)s AND expires_at > %(now)s
FOR KEY SHARE
