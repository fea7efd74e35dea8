-- See ../usage_counter_release_at.sql.
UPDATE usage_counters
SET count = max(count - %(amount)s, 0),
    updated_at = %(now)s
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
