-- See ../stats_record_finish.sql; one statement per counter here.
INSERT INTO user_daily_usage AS ud (user_id, day, tool_id, runs, completed, failed, bytes_in, bytes_out)
VALUES (%(user_id)s, %(day)s, %(tool_id)s, 0, %(completed)s, %(failed)s, 0, %(bytes_out)s)
ON CONFLICT (user_id, day, tool_id) DO UPDATE
    SET completed = ud.completed + excluded.completed, failed = ud.failed + excluded.failed,
        bytes_out = ud.bytes_out + excluded.bytes_out;

INSERT INTO tool_statistics AS ts (tool_id, runs, completed, failed, bytes_in, bytes_out, last_used_at, updated_at)
VALUES (%(tool_id)s, 0, %(completed)s, %(failed)s, 0, %(bytes_out)s, NULL, %(now)s)
ON CONFLICT (tool_id) DO UPDATE
    SET completed = ts.completed + excluded.completed,
        failed = ts.failed + excluded.failed,
        bytes_out = ts.bytes_out + excluded.bytes_out,
        updated_at = excluded.updated_at;

INSERT INTO daily_tool_usage AS dt (day, tool_id, runs, completed, failed, bytes_in, bytes_out)
VALUES (%(day)s, %(tool_id)s, 0, %(completed)s, %(failed)s, 0, %(bytes_out)s)
ON CONFLICT (day, tool_id) DO UPDATE
    SET completed = dt.completed + excluded.completed,
        failed = dt.failed + excluded.failed,
        bytes_out = dt.bytes_out + excluded.bytes_out
