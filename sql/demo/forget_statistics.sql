-- Before demo users are deleted (--reset): take their share back out of the
-- global counters, which outlive users. user_daily_usage holds that share
-- exactly, per day and tool. It goes in as negative tool usage events, the
-- way every change reaches those counters (stats_tool_events_roll.sql): exact
-- whatever is still in the tail or being rolled, and the reads see it at once.
INSERT INTO tool_usage_events (day, tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at)
SELECT day, tool_id, -sum(runs), -sum(completed), -sum(failed), -sum(bytes_in), -sum(bytes_out), NULL
FROM user_daily_usage
WHERE user_id = ANY(%(users)s::uuid[])
GROUP BY day, tool_id
