-- Move up to %(limit)s tool usage events into the global counters, in one
-- statement (stats.services.stats_tool_events_roll): the events deleted and
-- their sums added to tool_statistics and daily_tool_usage commit together,
-- so an event is counted exactly once, rolled or in the tail the reads add.
-- SKIP LOCKED: two rolls at once take different events. Both then upsert the
-- same counter rows; in key order (ORDER BY), so they queue, never deadlock.
-- The oldest first, so a backlog drains in order.
WITH taken AS (
    SELECT id FROM tool_usage_events ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), moved AS (
    DELETE FROM tool_usage_events e USING taken WHERE e.id = taken.id
    RETURNING e.day, e.tool_id, e.runs, e.completed, e.failed, e.bytes_in, e.bytes_out, e.last_used_at
), totals AS (
    INSERT INTO tool_statistics AS ts (tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at, updated_at)
    SELECT tool_id, sum(runs), sum(completed), sum(failed), sum(bytes_in), sum(bytes_out), max(last_used_at), now()
    FROM moved GROUP BY tool_id ORDER BY tool_id
    ON CONFLICT (tool_id) DO UPDATE
        SET runs = ts.runs + EXCLUDED.runs,
            completed = ts.completed + EXCLUDED.completed,
            failed = ts.failed + EXCLUDED.failed,
            bytes_in = ts.bytes_in + EXCLUDED.bytes_in,
            bytes_out = ts.bytes_out + EXCLUDED.bytes_out,
            last_used_at = GREATEST(ts.last_used_at, EXCLUDED.last_used_at),
            updated_at = now()
    RETURNING 1
), days AS (
    INSERT INTO daily_tool_usage AS dt (day, tool_id, runs, completed, failed, bytes_in, bytes_out)
    SELECT day, tool_id, sum(runs), sum(completed), sum(failed), sum(bytes_in), sum(bytes_out)
    FROM moved GROUP BY day, tool_id ORDER BY day, tool_id
    ON CONFLICT (day, tool_id) DO UPDATE
        SET runs = dt.runs + EXCLUDED.runs,
            completed = dt.completed + EXCLUDED.completed,
            failed = dt.failed + EXCLUDED.failed,
            bytes_in = dt.bytes_in + EXCLUDED.bytes_in,
            bytes_out = dt.bytes_out + EXCLUDED.bytes_out
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved) AS events, (SELECT count(*) FROM totals) AS tools,
       (SELECT count(*) FROM days) AS days
