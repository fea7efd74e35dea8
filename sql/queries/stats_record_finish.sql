-- Count a finished run (completed or failed) in one round trip, in the same
-- transaction as the state change. %(completed)s and %(failed)s are 0 or 1.
-- Same lock order as stats_record_start.sql: user rows, then tool rows.
WITH user_day AS (
    INSERT INTO user_daily_usage AS ud (user_id, day, tool_id, runs, completed, failed, bytes_in, bytes_out)
    VALUES (%(user_id)s, %(day)s, %(tool_id)s, 0, %(completed)s, %(failed)s, 0, %(bytes_out)s)
    ON CONFLICT (user_id, day, tool_id) DO UPDATE
        SET completed = ud.completed + EXCLUDED.completed, failed = ud.failed + EXCLUDED.failed,
            bytes_out = ud.bytes_out + EXCLUDED.bytes_out
    RETURNING 1
), tool_total AS (
    INSERT INTO tool_statistics AS ts (tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at, updated_at)
    VALUES (%(tool_id)s, 0, %(completed)s, %(failed)s, 0, %(bytes_out)s, NULL, now())
    ON CONFLICT (tool_id) DO UPDATE
        SET completed = ts.completed + EXCLUDED.completed,
            failed = ts.failed + EXCLUDED.failed,
            bytes_out = ts.bytes_out + EXCLUDED.bytes_out,
            updated_at = now()
    RETURNING 1
), tool_day AS (
    INSERT INTO daily_tool_usage AS dt (day, tool_id, runs, completed, failed, bytes_in, bytes_out)
    VALUES (%(day)s, %(tool_id)s, 0, %(completed)s, %(failed)s, 0, %(bytes_out)s)
    ON CONFLICT (day, tool_id) DO UPDATE
        SET completed = dt.completed + EXCLUDED.completed,
            failed = dt.failed + EXCLUDED.failed,
            bytes_out = dt.bytes_out + EXCLUDED.bytes_out
    RETURNING 1
)
SELECT (SELECT count(*) FROM user_day), (SELECT count(*) FROM tool_total), (SELECT count(*) FROM tool_day)
