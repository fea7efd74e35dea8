-- Count a started run everywhere in one round trip, in the run's own
-- transaction: the user's totals and per-tool breakdown, the global per-tool
-- counters, and the per-day rows (global and per user).
-- Each counter is a single atomic upsert; no value is read into Python and
-- written back, so concurrent runs never lose an increment. The statement
-- always takes the row locks in the same order (user rows, then tool rows),
-- so two runs cannot deadlock on them.
WITH user_total AS (
    INSERT INTO user_stats AS us (user_id, total_used, tools_breakdown, last_used_at, updated_at)
    VALUES (%(user_id)s, 1, jsonb_build_object(%(tool_id)s::text, 1), %(at)s, now())
    ON CONFLICT (user_id) DO UPDATE
        SET total_used = us.total_used + 1,
            tools_breakdown = jsonb_set(
                us.tools_breakdown, ARRAY[%(tool_id)s::text],
                to_jsonb(COALESCE((us.tools_breakdown ->> %(tool_id)s::text)::bigint, 0) + 1)
            ),
            last_used_at = GREATEST(us.last_used_at, EXCLUDED.last_used_at),
            updated_at = now()
    RETURNING 1
), user_day AS (
    INSERT INTO user_daily_usage AS ud (user_id, day, tool_id, runs, completed, failed, bytes_in, bytes_out)
    VALUES (%(user_id)s, %(day)s, %(tool_id)s, 1, 0, 0, %(bytes_in)s, 0)
    ON CONFLICT (user_id, day, tool_id) DO UPDATE
        SET runs = ud.runs + 1, bytes_in = ud.bytes_in + EXCLUDED.bytes_in
    RETURNING 1
), tool_total AS (
    INSERT INTO tool_statistics AS ts (tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at, updated_at)
    VALUES (%(tool_id)s, 1, 0, 0, %(bytes_in)s, 0, %(at)s, now())
    ON CONFLICT (tool_id) DO UPDATE
        SET runs = ts.runs + 1,
            bytes_in = ts.bytes_in + EXCLUDED.bytes_in,
            last_used_at = GREATEST(ts.last_used_at, EXCLUDED.last_used_at),
            updated_at = now()
    RETURNING 1
), tool_day AS (
    INSERT INTO daily_tool_usage AS dt (day, tool_id, runs, completed, failed, bytes_in, bytes_out)
    VALUES (%(day)s, %(tool_id)s, 1, 0, 0, %(bytes_in)s, 0)
    ON CONFLICT (day, tool_id) DO UPDATE
        SET runs = dt.runs + 1, bytes_in = dt.bytes_in + EXCLUDED.bytes_in
    RETURNING 1
)
SELECT (SELECT count(*) FROM user_total), (SELECT count(*) FROM user_day),
       (SELECT count(*) FROM tool_total), (SELECT count(*) FROM tool_day)
