-- The last step of a cleanup batch, in one statement: forget the object rows
-- whose blobs storage confirmed gone, give their bytes back to each owner's
-- storage quota, and delete the claimed runs that have no object left.
-- The NOT EXISTS sees storage_objects as it was before this statement, so the
-- rows deleted here are excluded by id; an object another cleaner holds, or
-- one storage refused to delete, keeps its run for a later pass.
-- Plain SQL, not QuerySet.delete(): the ORM path fires post_delete, which
-- would owe a second delete of blobs that are already gone.
WITH gone AS (
    DELETE FROM storage_objects
    WHERE id = ANY(%(object_ids)s::uuid[])
    RETURNING user_id, size
),
released AS (
    UPDATE usage_counters AS uc
    SET count = GREATEST(uc.count - freed.amount, 0),
        updated_at = now()
    FROM (SELECT user_id, sum(size) AS amount FROM gone GROUP BY user_id) AS freed
    WHERE uc.user_id = freed.user_id
      AND uc.metric = %(metric)s
      AND uc.window_start = %(window_start)s
    RETURNING 1
),
runs AS (
    DELETE FROM history AS h
    WHERE h.id = ANY(%(run_ids)s::uuid[])
      AND NOT EXISTS (
          SELECT 1 FROM storage_objects AS so
          WHERE so.run_id = h.id AND so.id <> ALL(%(object_ids)s::uuid[])
      )
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone),
       (SELECT coalesce(sum(size), 0) FROM gone),
       (SELECT count(*) FROM runs),
       (SELECT count(*) FROM released)
