-- The last step of a cleanup batch, in one statement: forget the object rows
-- whose blobs storage confirmed gone and delete the claimed runs that have no
-- object left. The storage_objects_deleted trigger gives the bytes back to
-- each owner's quota; the caller has set blobs_deleted_by_caller first, so no
-- second delete is owed for blobs that are already gone.
-- The NOT EXISTS sees storage_objects as it was before this statement, so the
-- rows deleted here are excluded by id; an object another cleaner holds, or
-- one storage refused to delete, keeps its run for a later pass.
WITH gone AS (
    DELETE FROM storage_objects
    WHERE id = ANY(%(object_ids)s::uuid[])
    RETURNING user_id, size
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
SELECT (SELECT count(*) FROM gone) AS object_rows_deleted,
       (SELECT coalesce(sum(size), 0) FROM gone) AS bytes_released,
       (SELECT count(*) FROM runs) AS runs_deleted
