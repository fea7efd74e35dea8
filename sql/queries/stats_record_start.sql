-- Count a started run everywhere in one round trip, in the run's own
-- transaction: the user's totals, per-tool breakdown and per-day row (atomic
-- upserts: no value is read into Python and written back, so concurrent runs
-- never lose an increment), and one event for the global per-tool counters.
-- The only rows it locks are the user's own, so runs of different users
-- never wait for each other here.
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
), tool_event AS (
    -- The global per-tool counters get an event, not an UPDATE: every run of
    -- the tool would otherwise wait on their row locks through each other's
    -- commit (stats.models.ToolUsageEvent; stats_tool_events_roll.sql adds
    -- them up every few seconds, reads add the rest).
    INSERT INTO tool_usage_events (day, tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at)
    VALUES (%(day)s, %(tool_id)s, 1, 0, 0, %(bytes_in)s, 0, %(at)s)
    RETURNING 1
)
SELECT (SELECT count(*) FROM user_total) AS user_total, (SELECT count(*) FROM user_day) AS user_day,
       (SELECT count(*) FROM tool_event) AS tool_event
