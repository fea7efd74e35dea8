-- Check-and-increment a usage counter in one statement. The first use in a window inserts the row; later uses add
-- to it only while the total stays within the limit. No row comes back when
-- the limit would be crossed, and nothing changes then.
-- A NULL limit means unlimited: the use is still counted.
INSERT INTO usage_counters AS uc (user_id, metric, count, window_start, window_end, created_at, updated_at)
VALUES (%(user_id)s, %(metric)s, %(amount)s, %(window_start)s, %(window_end)s, now(), now())
ON CONFLICT (user_id, metric, window_start) DO UPDATE
    SET count = uc.count + EXCLUDED.count,
        updated_at = now()
    WHERE %(limit)s::bigint IS NULL OR uc.count + EXCLUDED.count <= %(limit)s::bigint
RETURNING count
