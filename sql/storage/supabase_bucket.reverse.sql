-- Removes exactly what supabase_bucket.sql added: its four policies, and the
-- buckets it created (named in the select policy's comment), each only while
-- it holds no object: the objects of a bucket are people's files, and
-- storage.objects references its bucket. A bucket that existed before this
-- project is never deleted.
DO $unbucket$
DECLARE
    marker jsonb;
    doomed text;
    allow_delete text;
BEGIN
    IF to_regclass('storage.objects') IS NULL OR to_regclass('storage.buckets') IS NULL THEN
        RETURN;
    END IF;
    SELECT CASE WHEN obj_description(oid, 'pg_policy') LIKE 'versatools: {%'
                THEN substr(obj_description(oid, 'pg_policy'), length('versatools: ') + 1)::jsonb END
    INTO marker
    FROM pg_catalog.pg_policy
    WHERE polrelid = 'storage.objects'::regclass AND polname = 'versatools_objects_select';

    BEGIN
        DROP POLICY IF EXISTS versatools_objects_select ON storage.objects;
        DROP POLICY IF EXISTS versatools_objects_insert ON storage.objects;
        DROP POLICY IF EXISTS versatools_objects_update ON storage.objects;
        DROP POLICY IF EXISTS versatools_objects_delete ON storage.objects;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'versatools: the versatools_objects_* policies on storage.objects could not be dropped (%)',
            SQLERRM;
        RETURN;  -- the comment naming our buckets stays with them
    END;

    FOR doomed IN SELECT jsonb_array_elements_text(coalesce(marker -> 'created_buckets', '[]'::jsonb)) LOOP
        IF EXISTS (SELECT FROM storage.objects AS o WHERE o.bucket_id = doomed) THEN
            RAISE WARNING 'versatools: storage bucket % was created by this project but holds objects; it stays',
                doomed;
            CONTINUE;
        END IF;
        BEGIN
            -- Supabase refuses deletes from its storage tables unless asked for in the transaction
            -- (storage.protect_delete); this bucket is ours and empty.
            allow_delete := current_setting('storage.allow_delete_query', true);
            PERFORM set_config('storage.allow_delete_query', 'true', true);
            DELETE FROM storage.buckets AS b WHERE b.id = doomed;
            PERFORM set_config('storage.allow_delete_query', coalesce(allow_delete, ''), true);
        EXCEPTION WHEN insufficient_privilege OR foreign_key_violation THEN
            RAISE WARNING 'versatools: storage bucket % could not be deleted (%)', doomed, SQLERRM;
        END;
    END LOOP;
END
$unbucket$;
