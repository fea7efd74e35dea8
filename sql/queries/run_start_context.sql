-- Everything a run start must know, in one round trip: the operator's cost
-- override and switch for the tool (admin_settings), and the limits of the
-- user's plan: their entitled subscription's plan, else the free plan.
-- Plan columns are NULL when neither exists (a fresh development database);
-- cost_override is NULL when the tool keeps its default cost.
SELECT
    (SELECT (s.feature_costs ->> %(tool_id)s)::int FROM admin_settings s WHERE s.id = 'singleton') AS cost_override,
    COALESCE((SELECT s.disabled_tools ? %(tool_id)s FROM admin_settings s WHERE s.id = 'singleton'), false) AS disabled,
    p.key, p.runs_per_window, p.usage_window, p.max_file_bytes, p.storage_bytes, p.retention_hours
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT candidate.* FROM (
        SELECT plan.key, plan.runs_per_window, plan.usage_window, plan.max_file_bytes, plan.storage_bytes,
               plan.retention_hours, 0 AS preference
        FROM subscriptions sub JOIN plans plan ON plan.id = sub.plan_id
        WHERE sub.user_id = %(user_id)s AND sub.status = ANY(%(entitled_statuses)s)
        UNION ALL
        SELECT plan.key, plan.runs_per_window, plan.usage_window, plan.max_file_bytes, plan.storage_bytes,
               plan.retention_hours, 1 AS preference
        FROM plans plan
        WHERE plan.key = %(free_plan_key)s
    ) AS candidate
    ORDER BY candidate.preference
    LIMIT 1
) AS p ON true
