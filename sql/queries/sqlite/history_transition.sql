-- See ../history_transition.sql. json_patch merges the tool's metadata in.
UPDATE history
SET status = %(to_status)s,
    started_at = CASE WHEN %(to_status)s = 'PROCESSING' THEN %(at)s ELSE started_at END,
    finished_at = CASE WHEN %(to_status)s IN ('COMPLETED', 'FAILED') THEN %(at)s ELSE finished_at END,
    output_file_name = COALESCE(%(output_file_name)s, output_file_name),
    file_key = COALESCE(%(file_key)s, file_key),
    bytes_out = COALESCE(%(bytes_out)s, bytes_out),
    error_message = COALESCE(%(error_message)s, error_message),
    metadata = json_patch(metadata, %(metadata)s),
    updated_at = %(at)s
WHERE id = %(run_id)s AND status IN (SELECT value FROM json_each(%(from_statuses)s))
RETURNING user_id, tool_id, credits_charged, bytes_out, created_at
