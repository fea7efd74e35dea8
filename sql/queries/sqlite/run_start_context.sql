-- See ../run_start_context.sql.
SELECT
    (SELECT json_extract(s.feature_costs, '$."' || %(tool_id)s || '"') FROM admin_settings s WHERE s.id = 'singleton'),
    COALESCE((SELECT EXISTS (SELECT 1 FROM json_each(s.disabled_tools) WHERE value = %(tool_id)s)
              FROM admin_settings s WHERE s.id = 'singleton'), 0),
    p.key, p.runs_per_window, p.usage_window, p.max_file_bytes, p.storage_bytes, p.retention_hours
FROM (SELECT 1) AS one
LEFT JOIN (
    SELECT * FROM (
        SELECT plan.key, plan.runs_per_window, plan.usage_window, plan.max_file_bytes, plan.storage_bytes,
               plan.retention_hours, 0 AS preference
        FROM subscriptions sub JOIN plans plan ON plan.id = sub.plan_id
        WHERE sub.user_id = %(user_id)s AND sub.status IN (SELECT value FROM json_each(%(entitled_statuses)s))
        UNION ALL
        SELECT plan.key, plan.runs_per_window, plan.usage_window, plan.max_file_bytes, plan.storage_bytes,
               plan.retention_hours, 1 AS preference
        FROM plans plan WHERE plan.key = %(free_plan_key)s
    )
    ORDER BY preference
    LIMIT 1
) AS p ON 1
