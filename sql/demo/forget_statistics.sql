-- Before demo users are deleted (--reset): take their share back out of the
-- global counters, which outlive users. user_daily_usage holds that share
-- exactly, per day and tool.
WITH share AS (
    SELECT day, tool_id, sum(runs) AS runs, sum(completed) AS completed, sum(failed) AS failed,
           sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out
    FROM user_daily_usage WHERE user_id = ANY(%(users)s::uuid[]) GROUP BY 1, 2
), daily AS (
    UPDATE daily_tool_usage dt
    SET runs = GREATEST(dt.runs - s.runs, 0), completed = GREATEST(dt.completed - s.completed, 0),
        failed = GREATEST(dt.failed - s.failed, 0), bytes_in = GREATEST(dt.bytes_in - s.bytes_in, 0),
        bytes_out = GREATEST(dt.bytes_out - s.bytes_out, 0)
    FROM share s WHERE dt.day = s.day AND dt.tool_id = s.tool_id
    RETURNING 1
), totals AS (
    SELECT tool_id, sum(runs) AS runs, sum(completed) AS completed, sum(failed) AS failed,
           sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out
    FROM share GROUP BY tool_id
)
UPDATE tool_statistics ts
SET runs = GREATEST(ts.runs - t.runs, 0), completed = GREATEST(ts.completed - t.completed, 0),
    failed = GREATEST(ts.failed - t.failed, 0), bytes_in = GREATEST(ts.bytes_in - t.bytes_in, 0),
    bytes_out = GREATEST(ts.bytes_out - t.bytes_out, 0), updated_at = now()
FROM totals t WHERE ts.tool_id = t.tool_id;

DELETE FROM daily_tool_usage WHERE runs = 0 AND completed = 0 AND failed = 0;
DELETE FROM tool_statistics WHERE runs = 0 AND completed = 0 AND failed = 0;
