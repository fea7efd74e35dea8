-- Give back usage for many users in one statement (the storage bytes of a
-- cleanup batch); never below zero. Same effect as billing's usage_release
-- called once per user, in one round trip.
UPDATE usage_counters AS uc
SET count = GREATEST(uc.count - d.amount, 0),
    updated_at = now()
FROM unnest(%(user_ids)s::uuid[], %(amounts)s::bigint[]) AS d (user_id, amount)
WHERE uc.user_id = d.user_id
  AND uc.metric = %(metric)s
  AND uc.window_start = %(window_start)s
