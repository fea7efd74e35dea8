-- Count a finished run (completed or failed) in one round trip, in the same
-- transaction as the state change. %(completed)s and %(failed)s are 0 or 1.
-- It locks only the user's own row; the global counters get an event.
WITH user_day AS (
    INSERT INTO user_daily_usage AS ud (user_id, day, tool_id, runs, completed, failed, bytes_in, bytes_out)
    VALUES (%(user_id)s, %(day)s, %(tool_id)s, 0, %(completed)s, %(failed)s, 0, %(bytes_out)s)
    ON CONFLICT (user_id, day, tool_id) DO UPDATE
        SET completed = ud.completed + EXCLUDED.completed, failed = ud.failed + EXCLUDED.failed,
            bytes_out = ud.bytes_out + EXCLUDED.bytes_out
    RETURNING 1
), tool_event AS (
    -- An event, not an UPDATE of the shared per-tool rows (see stats_record_start.sql).
    INSERT INTO tool_usage_events (day, tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at)
    VALUES (%(day)s, %(tool_id)s, 0, %(completed)s, %(failed)s, 0, %(bytes_out)s, NULL)
    RETURNING 1
)
SELECT (SELECT count(*) FROM user_day) AS user_day, (SELECT count(*) FROM tool_event) AS tool_event
