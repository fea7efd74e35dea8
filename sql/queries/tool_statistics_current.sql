-- The global per-tool counters as of now, in one query: the rolled-up rows
-- plus the events not yet rolled up (stats_tool_events_roll.sql). The tail
-- is a few seconds of runs, read by a sequential scan of a small table.
SELECT tool_id, sum(runs)::bigint AS runs, sum(completed)::bigint AS completed, sum(failed)::bigint AS failed,
       sum(bytes_in)::bigint AS bytes_in, sum(bytes_out)::bigint AS bytes_out, max(last_used_at) AS last_used_at
FROM (
    SELECT tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at FROM tool_statistics
    UNION ALL
    SELECT tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at FROM tool_usage_events
) AS counters
GROUP BY tool_id
ORDER BY tool_id
