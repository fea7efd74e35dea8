-- Move one run to %(to_status)s, but only from one of %(from_statuses)s.
-- The WHERE on status is the whole concurrency story: of two workers racing
-- to complete the same run, exactly one UPDATE matches; the other gets no row
-- back and reports an illegal move. RETURNING hands the caller what the
-- statistics and the refund need without a second query.
-- NULL parameters leave their column as it is; %(metadata)s is merged in.
-- %(to_status)s is cast once per use: bound on the server (core.sqlfiles), an
-- untyped parameter would be read as varchar by the SET and text by the CASE.
UPDATE history
SET status = %(to_status)s::text,
    started_at = CASE WHEN %(to_status)s::text = 'PROCESSING' THEN %(at)s ELSE started_at END,
    finished_at = CASE WHEN %(to_status)s::text IN ('COMPLETED', 'FAILED') THEN %(at)s ELSE finished_at END,
    output_file_name = COALESCE(%(output_file_name)s, output_file_name),
    file_key = COALESCE(%(file_key)s, file_key),
    bytes_out = COALESCE(%(bytes_out)s, bytes_out),
    error_message = COALESCE(%(error_message)s, error_message),
    metadata = metadata || %(metadata)s::jsonb,
    updated_at = %(at)s
WHERE id = %(run_id)s AND status = ANY(%(from_statuses)s)
RETURNING user_id, tool_id, credits_charged, bytes_out, created_at
