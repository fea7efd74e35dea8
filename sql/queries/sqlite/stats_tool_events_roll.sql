-- See ../stats_tool_events_roll.sql. On SQLite runs update the counters
-- directly (sqlite/stats_record_start.sql): there is never a tail to move.
SELECT 0 AS events, 0 AS tools, 0 AS days
