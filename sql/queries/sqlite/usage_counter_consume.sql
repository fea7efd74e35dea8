-- See ../usage_counter_consume.sql.
INSERT INTO usage_counters AS uc (user_id, metric, count, window_start, window_end, created_at, updated_at)
VALUES (%(user_id)s, %(metric)s, %(amount)s, %(window_start)s, %(window_end)s, %(now)s, %(now)s)
ON CONFLICT (user_id, metric, window_start) DO UPDATE
    SET count = uc.count + excluded.count, updated_at = excluded.updated_at
    WHERE %(limit)s IS NULL OR uc.count + excluded.count <= %(limit)s
RETURNING count
