-- After the demo share's negative events are rolled in: the counters of days
-- and tools nobody but demo users ever used are all zero; they go.
DELETE FROM daily_tool_usage WHERE runs = 0 AND completed = 0 AND failed = 0;
DELETE FROM tool_statistics WHERE runs = 0 AND completed = 0 AND failed = 0;
