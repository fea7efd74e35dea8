-- Give back %(amount)s of %(metric)s in the window that counted a use made at
-- %(at)s (a failed run's unit of the runs quota). A user whose plan changed
-- its window length may have two windows covering that instant: the newest
-- one is the one that counted it. Never below zero; no window, no change.
UPDATE usage_counters
SET count = GREATEST(count - %(amount)s, 0),
    updated_at = now()
WHERE id = (
    SELECT id
    FROM usage_counters
    WHERE user_id = %(user_id)s
      AND metric = %(metric)s
      AND window_start <= %(at)s
      AND window_end > %(at)s
    ORDER BY window_start DESC
    LIMIT 1
)
