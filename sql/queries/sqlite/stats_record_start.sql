-- See ../stats_record_start.sql; one statement per counter here. SQLite has
-- one writer at a time (the database's own lock), so a shared row costs no
-- queue of its own: the global counters are updated directly and the events
-- table stays empty (the roll and the reads' tail find nothing to add).
INSERT INTO user_stats AS us (user_id, total_used, tools_breakdown, last_used_at, updated_at)
VALUES (%(user_id)s, 1, json_object(%(tool_id)s, 1), %(at)s, %(now)s)
ON CONFLICT (user_id) DO UPDATE
    SET total_used = us.total_used + 1,
        tools_breakdown = json_set(
            us.tools_breakdown, '$."' || %(tool_id)s || '"',
            COALESCE(json_extract(us.tools_breakdown, '$."' || %(tool_id)s || '"'), 0) + 1
        ),
        last_used_at = max(COALESCE(us.last_used_at, excluded.last_used_at), excluded.last_used_at),
        updated_at = excluded.updated_at;

INSERT INTO user_daily_usage AS ud (user_id, day, tool_id, runs, completed, failed, bytes_in, bytes_out)
VALUES (%(user_id)s, %(day)s, %(tool_id)s, 1, 0, 0, %(bytes_in)s, 0)
ON CONFLICT (user_id, day, tool_id) DO UPDATE
    SET runs = ud.runs + 1, bytes_in = ud.bytes_in + excluded.bytes_in;

INSERT INTO tool_statistics AS ts (tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at, updated_at)
VALUES (%(tool_id)s, 1, 0, 0, %(bytes_in)s, 0, %(at)s, %(now)s)
ON CONFLICT (tool_id) DO UPDATE
    SET runs = ts.runs + 1,
        bytes_in = ts.bytes_in + excluded.bytes_in,
        last_used_at = max(COALESCE(ts.last_used_at, excluded.last_used_at), excluded.last_used_at),
        updated_at = excluded.updated_at;

INSERT INTO daily_tool_usage AS dt (day, tool_id, runs, completed, failed, bytes_in, bytes_out)
VALUES (%(day)s, %(tool_id)s, 1, 0, 0, %(bytes_in)s, 0)
ON CONFLICT (day, tool_id) DO UPDATE
    SET runs = dt.runs + 1, bytes_in = dt.bytes_in + excluded.bytes_in
