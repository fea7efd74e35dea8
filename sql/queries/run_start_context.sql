-- Everything a run start must know, in one round trip: the operator's cost
-- override and switch for the tool (admin_settings, and the tool's catalog
-- entry, features.active: either switch turns it off), and the limits of the
-- user's effective plan (fragments/effective_plan.sql, the one rule).
-- Plan columns are NULL when there is no plan at all (a fresh development
-- database); cost_override is NULL when the tool keeps its default cost.
SELECT
    (SELECT (s.feature_costs ->> %(tool_id)s)::int FROM admin_settings s WHERE s.id = 'singleton') AS cost_override,
    COALESCE((SELECT s.disabled_tools ? %(tool_id)s FROM admin_settings s WHERE s.id = 'singleton'), false)
        OR EXISTS (SELECT 1 FROM features f WHERE f.tool_id = %(tool_id)s AND NOT f.active) AS disabled,
    p.plan_key, p.plan_name, p.runs_per_window, p.usage_window, p.max_file_bytes, p.storage_bytes, p.retention_hours
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    -- @include queries/fragments/effective_plan
) AS p ON true
