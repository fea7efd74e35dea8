-- See ../tool_statistics_current.sql (the same SQL: on SQLite the tail is always empty).
SELECT tool_id, sum(runs) AS runs, sum(completed) AS completed, sum(failed) AS failed,
       sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out, max(last_used_at) AS last_used_at
FROM (
    SELECT tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at FROM tool_statistics
    UNION ALL
    SELECT tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at FROM tool_usage_events
) AS counters
GROUP BY tool_id
ORDER BY tool_id
