-- What an upload needs to know of its sender, in one statement: the limits of
-- their effective plan (fragments/effective_plan.sql; no plan columns without
-- any plan) and whether their address is verified (fragments/email_verified.sql).
SELECT plan.plan_key, plan.plan_name, plan.runs_per_window, plan.usage_window, plan.max_file_bytes,
       plan.storage_bytes, plan.retention_hours, sender.email_verified
FROM (
    SELECT
    -- @include queries/fragments/email_verified
    AS email_verified
) AS sender
LEFT JOIN (
    -- @include queries/fragments/effective_plan
) AS plan ON 1 = 1
