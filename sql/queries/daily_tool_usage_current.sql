-- Runs per day and tool from %(since)s to %(until)s as of now, in one query:
-- the rolled-up daily rows (their unique (day, tool_id) index) plus the
-- events not yet rolled up (stats_tool_events_roll.sql).
SELECT day, tool_id, sum(runs)::bigint AS runs, sum(completed)::bigint AS completed, sum(failed)::bigint AS failed
FROM (
    SELECT day, tool_id, runs, completed, failed FROM daily_tool_usage WHERE day BETWEEN %(since)s AND %(until)s
    UNION ALL
    SELECT day, tool_id, runs, completed, failed FROM tool_usage_events WHERE day BETWEEN %(since)s AND %(until)s
) AS counters
GROUP BY day, tool_id
ORDER BY day, tool_id
