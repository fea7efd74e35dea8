-- The demo runs' statistics, counted once from the rows just generated (at
-- run time statistics are counted by the lifecycle, never from history).
-- Global counters are added to whatever is there already.
INSERT INTO user_daily_usage (user_id, day, tool_id, runs, completed, failed, bytes_in, bytes_out)
SELECT user_id, (created_at AT TIME ZONE 'UTC')::date, tool_id, count(*),
       count(*) FILTER (WHERE status = 'COMPLETED'), count(*) FILTER (WHERE status = 'FAILED'),
       sum(bytes_in), sum(bytes_out)
FROM history
WHERE user_id = ANY(%(users)s::uuid[])
GROUP BY 1, 2, 3;

INSERT INTO user_stats (user_id, total_used, tools_breakdown, last_used_at, updated_at)
SELECT user_id, sum(runs), jsonb_object_agg(tool_id, runs), max(last_used_at), now()
FROM (
    SELECT user_id, tool_id, count(*) AS runs, max(created_at) AS last_used_at
    FROM history WHERE user_id = ANY(%(users)s::uuid[]) GROUP BY 1, 2
) AS per_tool
GROUP BY user_id;

INSERT INTO daily_tool_usage AS dt (day, tool_id, runs, completed, failed, bytes_in, bytes_out)
SELECT day, tool_id, sum(runs), sum(completed), sum(failed), sum(bytes_in), sum(bytes_out)
FROM user_daily_usage WHERE user_id = ANY(%(users)s::uuid[])
GROUP BY 1, 2
ON CONFLICT (day, tool_id) DO UPDATE
    SET runs = dt.runs + EXCLUDED.runs, completed = dt.completed + EXCLUDED.completed,
        failed = dt.failed + EXCLUDED.failed, bytes_in = dt.bytes_in + EXCLUDED.bytes_in,
        bytes_out = dt.bytes_out + EXCLUDED.bytes_out;

INSERT INTO tool_statistics AS ts (tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at, updated_at)
SELECT h.tool_id, count(*), count(*) FILTER (WHERE h.status = 'COMPLETED'),
       count(*) FILTER (WHERE h.status = 'FAILED'), sum(h.bytes_in), sum(h.bytes_out), max(h.created_at), now()
FROM history h
WHERE h.user_id = ANY(%(users)s::uuid[])
GROUP BY h.tool_id
ON CONFLICT (tool_id) DO UPDATE
    SET runs = ts.runs + EXCLUDED.runs, completed = ts.completed + EXCLUDED.completed,
        failed = ts.failed + EXCLUDED.failed, bytes_in = ts.bytes_in + EXCLUDED.bytes_in,
        bytes_out = ts.bytes_out + EXCLUDED.bytes_out,
        last_used_at = GREATEST(ts.last_used_at, EXCLUDED.last_used_at), updated_at = now();

-- The runs quota: each user's current window (day or month of their plan).
INSERT INTO usage_counters (user_id, metric, count, window_start, window_end, created_at, updated_at)
SELECT w.user_id, 'runs', count(h.id), w.window_start, w.window_end, now(), now()
FROM unnest(%(users)s::uuid[], %(window_starts)s::timestamptz[], %(window_ends)s::timestamptz[])
     AS w(user_id, window_start, window_end)
JOIN history h ON h.user_id = w.user_id AND h.created_at >= w.window_start AND h.created_at < w.window_end
GROUP BY w.user_id, w.window_start, w.window_end;
