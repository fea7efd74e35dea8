-- See ../run_start_context.sql; the plan comes from the same fragment.
SELECT
    (SELECT json_extract(s.feature_costs, '$."' || %(tool_id)s || '"') FROM admin_settings s WHERE s.id = 'singleton')
        AS cost_override,
    COALESCE((SELECT EXISTS (SELECT 1 FROM json_each(s.disabled_tools) WHERE value = %(tool_id)s)
              FROM admin_settings s WHERE s.id = 'singleton'), 0)
        OR EXISTS (SELECT 1 FROM features f WHERE f.tool_id = %(tool_id)s AND NOT f.active) AS disabled,
    p.plan_key, p.plan_name, p.runs_per_window, p.usage_window, p.max_file_bytes, p.storage_bytes, p.retention_hours
FROM (SELECT 1) AS one
LEFT JOIN (
    -- @include queries/fragments/effective_plan
) AS p ON 1
