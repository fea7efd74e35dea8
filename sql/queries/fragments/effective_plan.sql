-- The effective plan of user %(user_id)s at %(now)s: the one rule, used by every
-- limit check, the dashboard and the API (billing.selectors.effective_plan,
-- and inside run_start_context). Written in SQL both dialects read, so that
-- PostgreSQL and the SQLite default cannot disagree.
--
-- A subscription grants its plan while it is in a trial that has not ended
-- (trial_ends_at unset or in the future), active, or past_due (the grace
-- while a payment is retried). Cancelled and expired ones do not, nor does a
-- trial past its end that nobody has moved on yet. Without one, the user is
-- on the free plan; without a free plan (no catalog loaded), on nothing:
-- no row, and the caller uses billing.selectors.default_limits.
SELECT candidate.plan_key, candidate.plan_name, candidate.runs_per_window, candidate.usage_window,
       candidate.max_file_bytes, candidate.storage_bytes, candidate.retention_hours
FROM (
    SELECT plan.key AS plan_key, plan.name AS plan_name, plan.runs_per_window, plan.usage_window,
           plan.max_file_bytes, plan.storage_bytes, plan.retention_hours, 0 AS preference
    FROM subscriptions sub
    JOIN plans plan ON plan.id = sub.plan_id
    WHERE sub.user_id = %(user_id)s
      AND (sub.status IN ('active', 'past_due')
           OR (sub.status = 'trial' AND (sub.trial_ends_at IS NULL OR sub.trial_ends_at > %(now)s)))
    UNION ALL
    SELECT plan.key, plan.name, plan.runs_per_window, plan.usage_window,
           plan.max_file_bytes, plan.storage_bytes, plan.retention_hours, 1
    FROM plans plan
    WHERE plan.key = 'free'
) AS candidate
ORDER BY candidate.preference
LIMIT 1
