-- See ../daily_tool_usage_current.sql (the same SQL: on SQLite the tail is always empty).
SELECT day, tool_id, sum(runs) AS runs, sum(completed) AS completed, sum(failed) AS failed
FROM (
    SELECT day, tool_id, runs, completed, failed FROM daily_tool_usage WHERE day BETWEEN %(since)s AND %(until)s
    UNION ALL
    SELECT day, tool_id, runs, completed, failed FROM tool_usage_events WHERE day BETWEEN %(since)s AND %(until)s
) AS counters
GROUP BY day, tool_id
ORDER BY day, tool_id
