-- Supabase Storage: the app's bucket and the per-user folder policies on
-- storage.objects. Installed only where Supabase's storage schema exists (by
-- the files migration, and again after every migrate and every plan change,
-- since Supabase's storage server may create its schema after this project
-- migrated); on plain PostgreSQL and SQLite nothing here runs. Idempotent.
--
-- Its parameters come from Python, never typed here: files.services
-- storage_bucket_install sets versatools.storage_bucket (transaction-local)
-- to files.selectors.storage_bucket_rules(), i.e.
--   {"bucket": SUPABASE_STORAGE_BUCKET, "key_prefix": files.storage.key_prefix(),
--    "file_size_limit": the largest file any plan accepts,
--    "allowed_mime_types": what files.validation.check_content_type accepts}
-- so the bucket refuses exactly what the app would (seed 004's limit and
-- list, narrowed as the app narrows them).
--
-- * The bucket is created private if missing. If this script created it, its
--   limit and types follow the app's rules on every run; a bucket that was
--   there before is somebody else's: it is left as it is, with a warning if
--   it disagrees with the app.
-- * Four policies, TO authenticated only (anon gets nothing): select, insert,
--   update, delete of objects in that bucket under the caller's own folder.
--   Keys are {key_prefix}{user_id}/{entity}/{yyyy}/{mm}/{uuid}.{ext}
--   (files.storage.build_key), so a user's folder is the path segment after
--   the prefix that holds their id: name must start with
--   '<key_prefix><auth.uid()>/'. With no prefix that is seed 004's
--   (storage.foldername(name))[1] = auth.uid()::text, exactly. auth.uid() is
--   wrapped in a subquery: evaluated once per statement.
-- * What this script did is remembered in the comment of the select policy
--   (versatools: {"bucket", "key_prefix", "created_buckets"}), which the
--   reverse reads: it drops these policies and deletes only buckets this
--   script created. Policies whose bucket and prefix are unchanged are not
--   recreated (no ACCESS EXCLUSIVE lock on storage.objects for nothing).
-- * A migrating role that may not do this (on Supabase the storage tables
--   belong to supabase_storage_admin) gets a warning naming the error, and
--   nothing is installed: the bucket then accepts only what its own settings
--   and Supabase's policies allow.
DO $bucket$
DECLARE
    config jsonb := nullif(current_setting('versatools.storage_bucket', true), '')::jsonb;
    wanted_bucket text;
    wanted_prefix text;
    wanted_limit bigint;
    wanted_types text[];
    select_policy oid;
    marker jsonb;
    created text[];
    existing record;
    folder text;
    predicate text;
    recreated boolean := false;
BEGIN
    IF to_regclass('storage.objects') IS NULL OR to_regclass('storage.buckets') IS NULL THEN
        RETURN;
    END IF;
    IF config IS NULL THEN
        RAISE EXCEPTION 'versatools: sql/storage/supabase_bucket.sql runs through files.services.storage_bucket_install';
    END IF;
    wanted_bucket := config ->> 'bucket';
    wanted_prefix := coalesce(config ->> 'key_prefix', '');
    wanted_limit := (config ->> 'file_size_limit')::bigint;
    wanted_types := ARRAY(SELECT jsonb_array_elements_text(config -> 'allowed_mime_types'));

    SELECT oid INTO select_policy FROM pg_catalog.pg_policy
    WHERE polrelid = 'storage.objects'::regclass AND polname = 'versatools_objects_select';
    marker := CASE WHEN obj_description(select_policy, 'pg_policy') LIKE 'versatools: {%'
                   THEN substr(obj_description(select_policy, 'pg_policy'), length('versatools: ') + 1)::jsonb
              END;

    BEGIN
        -- What an earlier run did: the buckets it created that still exist.
        created := ARRAY(
            SELECT b.id FROM storage.buckets AS b
            WHERE b.id IN (SELECT jsonb_array_elements_text(coalesce(marker -> 'created_buckets', '[]'::jsonb)))
        );
        INSERT INTO storage.buckets (id, name, public, file_size_limit, allowed_mime_types, created_at, updated_at)
        VALUES (wanted_bucket, wanted_bucket, false, wanted_limit, wanted_types, now(), now())
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            created := array_append(created, wanted_bucket);
        ELSIF wanted_bucket = ANY (created) THEN
            UPDATE storage.buckets
            SET file_size_limit = wanted_limit, allowed_mime_types = wanted_types, public = false, updated_at = now()
            WHERE id = wanted_bucket
              AND (file_size_limit, allowed_mime_types, public) IS DISTINCT FROM (wanted_limit, wanted_types, false);
        ELSE
            SELECT b.public, b.file_size_limit, b.allowed_mime_types INTO existing
            FROM storage.buckets AS b WHERE b.id = wanted_bucket;
            IF NOT FOUND THEN
                RAISE WARNING 'versatools: storage bucket % could not be created (another bucket is named %)',
                    wanted_bucket, wanted_bucket;
            ELSIF existing.public
                  OR existing.file_size_limit IS DISTINCT FROM wanted_limit
                  OR existing.allowed_mime_types IS DISTINCT FROM wanted_types THEN
                RAISE WARNING 'versatools: storage bucket % existed before this project and was left as it is '
                              '(public %, file_size_limit %, allowed_mime_types %); the app accepts files up to % '
                              'bytes of types %', wanted_bucket, existing.public, existing.file_size_limit,
                              existing.allowed_mime_types, wanted_limit, wanted_types;
            END IF;
        END IF;

        IF select_policy IS NULL
           OR marker IS NULL
           OR marker ->> 'bucket' IS DISTINCT FROM wanted_bucket
           OR marker ->> 'key_prefix' IS DISTINCT FROM wanted_prefix
           OR (SELECT count(*) FROM pg_catalog.pg_policy
               WHERE polrelid = 'storage.objects'::regclass
                 AND polname IN ('versatools_objects_select', 'versatools_objects_insert',
                                 'versatools_objects_update', 'versatools_objects_delete')) <> 4 THEN
            folder := CASE WHEN wanted_prefix = '' THEN '(SELECT auth.uid())::text || ''/'''
                           ELSE format('%L || (SELECT auth.uid())::text || ''/''', wanted_prefix) END;
            predicate := format('bucket_id = %L AND starts_with(name, %s)', wanted_bucket, folder);
            DROP POLICY IF EXISTS versatools_objects_select ON storage.objects;
            DROP POLICY IF EXISTS versatools_objects_insert ON storage.objects;
            DROP POLICY IF EXISTS versatools_objects_update ON storage.objects;
            DROP POLICY IF EXISTS versatools_objects_delete ON storage.objects;
            EXECUTE format('CREATE POLICY versatools_objects_select ON storage.objects '
                           'FOR SELECT TO authenticated USING (%s)', predicate);
            EXECUTE format('CREATE POLICY versatools_objects_insert ON storage.objects '
                           'FOR INSERT TO authenticated WITH CHECK (%s)', predicate);
            -- WITH CHECK too: an object may not be moved out of its owner's folder or bucket.
            EXECUTE format('CREATE POLICY versatools_objects_update ON storage.objects '
                           'FOR UPDATE TO authenticated USING (%s) WITH CHECK (%s)', predicate, predicate);
            EXECUTE format('CREATE POLICY versatools_objects_delete ON storage.objects '
                           'FOR DELETE TO authenticated USING (%s)', predicate);
            recreated := true;
        END IF;
        IF recreated OR marker IS DISTINCT FROM jsonb_build_object(
               'bucket', wanted_bucket, 'key_prefix', wanted_prefix, 'created_buckets', to_jsonb(created)) THEN
            EXECUTE format(
                'COMMENT ON POLICY versatools_objects_select ON storage.objects IS %L',
                'versatools: ' || jsonb_build_object(
                    'bucket', wanted_bucket, 'key_prefix', wanted_prefix, 'created_buckets', to_jsonb(created))::text
            );
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'versatools: the storage bucket % and its policies were not installed (%); run '
                      'manage.py migrate as a role that owns storage.objects, or create them in the dashboard '
                      '(README "Deploying on Supabase")', wanted_bucket, SQLERRM;
    END;
END
$bucket$;
