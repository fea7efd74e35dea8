-- Reconcile's recount, billing's part: each user's storage counter against
-- the live bytes files counted (arrays of user ids and bytes, one pair per
-- user with objects), so a counter can only drift through a bug or a hand
-- edit. Reports how many counters are off and, when %(repair)s, sets them to
-- the live figure; a user with no object left gets zero.
-- A user with objects but no counter row at all gets one; that INSERT could
-- race only a first-ever store of that same user, which creates the row itself.
WITH live AS (
    SELECT live.user_id, live.bytes
    FROM unnest(%(user_ids)s::uuid[], %(bytes)s::bigint[]) AS live(user_id, bytes)
),
counted AS (
    SELECT user_id, count
    FROM usage_counters
    WHERE metric = %(metric)s AND window_start = %(window_start)s
),
off AS (
    SELECT coalesce(live.user_id, counted.user_id) AS user_id, coalesce(live.bytes, 0) AS bytes
    FROM live
    FULL JOIN counted ON counted.user_id = live.user_id
    WHERE counted.count IS DISTINCT FROM coalesce(live.bytes, 0)
),
fixed AS (
    INSERT INTO usage_counters AS uc (user_id, metric, count, window_start, window_end, created_at, updated_at)
    SELECT off.user_id, %(metric)s, off.bytes, %(window_start)s, %(window_end)s, now(), now()
    FROM off
    WHERE %(repair)s
    ON CONFLICT (user_id, metric, window_start) DO UPDATE
        SET count = EXCLUDED.count,
            updated_at = now()
    RETURNING 1
)
SELECT (SELECT count(*) FROM off) AS counters_off, (SELECT count(*) FROM fixed) AS counters_repaired
