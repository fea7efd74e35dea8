"""Supabase mode on PostgreSQL: the app's bucket and the per-user folder policies on storage.objects.

Each test builds a minimal ``storage`` schema shaped like Supabase's (the
columns the install reads and writes, RLS on ``storage.objects``, the grants
Supabase gives its API roles, ``storage.foldername``) inside its own
transaction and installs sql/storage/supabase_bucket.sql there through
``files.services.storage_bucket_install``, so nothing outlives the test. The
policies are exercised as PostgREST would, as ``authenticated`` with a
user's claims (``versatools.rls.rls_as_user``), or as ``anon``. The
migration round trip on a Supabase-like database is at the end (slow).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.apps import apps as global_apps
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import post_migrate
from django.utils import timezone

from billing.models import Plan
from files import storage
from files.selectors import storage_bucket_rules
from files.services import storage_bucket_install, storage_bucket_reapply, storage_bucket_uninstall
from files.validation import SNIFF_BYTES, allowed_types, check_content_type
from versatools.rls import rls_as_user
from versatools.tests.test_rls_migrations import migrate, migrate_to_zero, query, scratch  # noqa: F401

pytestmark = pytest.mark.django_db

STORAGE_SCHEMA = """
CREATE SCHEMA storage;
CREATE TABLE storage.buckets (
    id text PRIMARY KEY,
    name text NOT NULL,
    public boolean DEFAULT false,
    file_size_limit bigint,
    allowed_mime_types text[],
    owner uuid,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);
CREATE UNIQUE INDEX bname ON storage.buckets (name);
CREATE TABLE storage.objects (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bucket_id text REFERENCES storage.buckets (id),
    name text,
    owner uuid,
    metadata jsonb,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);
CREATE UNIQUE INDEX bucketid_objname ON storage.objects (bucket_id, name);
ALTER TABLE storage.buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;
-- Supabase's own: every folder of a path, the file name left out.
CREATE FUNCTION storage.foldername(name text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    _parts text[];
BEGIN
    SELECT string_to_array(name, '/') INTO _parts;
    RETURN _parts[1:array_length(_parts, 1) - 1];
END
$$;
GRANT USAGE ON SCHEMA storage TO anon, authenticated, service_role;
GRANT ALL ON storage.buckets, storage.objects TO anon, authenticated, service_role;
"""
OURS = (
    "versatools_objects_delete",
    "versatools_objects_insert",
    "versatools_objects_select",
    "versatools_objects_update",
)
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
CSV = b"name,size\na,1\nb,2\nc,3\n"


def sql(statement: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def bucket_row(bucket: str) -> tuple | None:
    rows = sql(
        "SELECT public, file_size_limit, allowed_mime_types FROM storage.buckets WHERE id = %s",
        [bucket],
    )
    return rows[0] if rows else None


def our_policies() -> list[tuple]:
    """(name, command, roles) of our policies on storage.objects."""
    return sql(
        "SELECT policyname, cmd, roles::text[] FROM pg_policies"
        " WHERE schemaname = 'storage' AND tablename = 'objects' AND policyname LIKE 'versatools\\_%%'"
        " ORDER BY policyname"
    )


def put(bucket: str, name: str, owner: uuid.UUID | None = None) -> uuid.UUID:
    """An object as Supabase's storage server (the table owner) records it."""
    [[object_id]] = sql(
        "INSERT INTO storage.objects (bucket_id, name, owner) VALUES (%s, %s, %s) RETURNING id", [bucket, name, owner]
    )
    return object_id


def add_bucket(bucket: str) -> None:
    sql("INSERT INTO storage.buckets (id, name) VALUES (%s, %s)", [bucket, bucket])


@pytest.fixture
def supabase_storage() -> None:
    sql(STORAGE_SCHEMA)


@pytest.fixture
def installed(supabase_storage: None, settings) -> str:
    settings.SUPABASE_STORAGE_BUCKET = "versatools"
    assert storage_bucket_install() == []
    return "versatools"


# --- The bucket: the app's own upload rules ------------------------------------


def test_the_bucket_is_created_private_with_the_apps_upload_rules(installed) -> None:
    public, limit, types = bucket_row(installed)

    rules = storage_bucket_rules()
    assert public is False
    assert types == sorted(allowed_types()) == rules.allowed_mime_types
    assert limit == rules.file_size_limit
    # What the app accepts by content, the bucket accepts by type; what it refuses, the bucket refuses.
    for content, expected in ((PDF, "application/pdf"), (PNG, "image/png")):
        mime, _ = check_content_type(_stream(content))
        assert mime == expected and mime in types
    assert "text/csv" not in types  # in seed 004's list, but no tool takes it: the app refuses it
    assert sql("SELECT name FROM storage.buckets WHERE id = %s", [installed]) == [(installed,)]


def _stream(content: bytes):
    import io

    stream = io.BytesIO(content + b"\x00" * max(0, 64 - len(content)))
    assert len(stream.getvalue()) <= SNIFF_BYTES
    return stream


def test_the_bucket_follows_the_type_definition_when_it_changes(installed, monkeypatch) -> None:
    # One definition: drop PDF from the app's list, install again, and the bucket drops it too.
    from files import validation

    narrowed = {mime: ext for mime, ext in validation.SEED_ALLOWED_TYPES.items() if mime != "application/pdf"}
    monkeypatch.setattr(validation, "SEED_ALLOWED_TYPES", narrowed)

    storage_bucket_install()

    types = bucket_row(installed)[2]
    assert "application/pdf" not in types and types == sorted(allowed_types())


def test_the_limit_is_the_largest_file_any_plan_accepts_and_follows_plan_edits(
    supabase_storage, settings, django_capture_on_commit_callbacks
) -> None:
    settings.UPLOAD_MAX_BYTES = 50 * 1024 * 1024
    Plan.objects.create(key="free", name="Free", credits=1, max_file_bytes=10 * 1024 * 1024)
    retired = Plan.objects.create(key="old", name="Old", credits=1, max_file_bytes=300 * 1024 * 1024, active=False)
    storage_bucket_install()
    assert bucket_row("versatools")[1] == 300 * 1024 * 1024  # a retired plan's subscribers keep its limit

    with django_capture_on_commit_callbacks(execute=True):
        retired.delete()
    assert bucket_row("versatools")[1] == 50 * 1024 * 1024  # the built-in default is the floor

    with django_capture_on_commit_callbacks(execute=True):
        Plan.objects.create(key="pro", name="Pro", credits=1, max_file_bytes=200 * 1024 * 1024)
    assert bucket_row("versatools")[1] == 200 * 1024 * 1024


def test_a_bucket_that_existed_before_is_left_as_it_is_with_a_warning(supabase_storage, caplog) -> None:
    sql("INSERT INTO storage.buckets (id, name, public, file_size_limit) VALUES ('versatools', 'versatools', false, 1)")

    warnings = storage_bucket_install()

    assert len(warnings) == 1 and "existed before this project" in warnings[0]
    assert "existed before this project" in caplog.text  # logged, so migrate's output shows it
    assert bucket_row("versatools") == (False, 1, None)
    assert [name for name, _, _ in our_policies()] == list(OURS)

    storage_bucket_uninstall()
    assert our_policies() == [] and bucket_row("versatools") == (False, 1, None)  # not ours: kept


def test_nothing_is_installed_without_a_storage_schema() -> None:
    assert storage_bucket_install() == []
    assert storage_bucket_reapply() is False
    assert storage_bucket_uninstall() == []
    assert sql("SELECT to_regnamespace('storage')") == [(None,)]


def test_a_role_that_may_not_install_gets_a_warning_and_nothing_is_installed(supabase_storage) -> None:
    # On Supabase the storage tables belong to supabase_storage_admin; a migrating role
    # that does not own storage.objects may not create policies on it.
    weak = f"versatools_test_{uuid.uuid4().hex[:8]}"
    sql(f"CREATE ROLE {weak} NOLOGIN")  # rolled back with the test
    sql(f"GRANT USAGE ON SCHEMA storage TO {weak}; GRANT SELECT, INSERT ON storage.buckets TO {weak}")
    sql(
        f"GRANT SELECT ON storage.objects TO {weak}; CREATE POLICY weak_reads ON storage.buckets TO {weak} USING (true)"
    )
    sql(f"CREATE POLICY weak_writes ON storage.buckets FOR INSERT TO {weak} WITH CHECK (true)")
    sql(f"GRANT SELECT ON public.plans TO {weak}")  # the limit reads them (RLS: none visible, the default applies)
    sql(f"SET LOCAL ROLE {weak}")
    try:
        warnings = storage_bucket_install()
    finally:
        sql("RESET ROLE")

    assert len(warnings) == 1 and "were not installed" in warnings[0] and "must be owner" in warnings[0]
    assert bucket_row("versatools") is None and our_policies() == []  # the bucket's insert was undone too


# --- Re-applied, reversed ------------------------------------------------------


def policy_oids() -> list[int]:
    return [
        row[0]
        for row in sql(
            "SELECT oid FROM pg_policy WHERE polrelid = 'storage.objects'::regclass AND polname LIKE 'versatools\\_%%'"
            " ORDER BY polname"
        )
    ]


def test_installing_again_changes_nothing_until_the_folder_or_bucket_changes(installed, settings) -> None:
    before = policy_oids()

    storage_bucket_install()
    assert policy_oids() == before  # unchanged: not recreated

    settings.STORAGE_KEY_PREFIX = "tenant-a"
    storage_bucket_install()
    assert policy_oids() != before and len(policy_oids()) == 4
    assert all(
        "'tenant-a/'" in qual
        for (qual,) in sql("SELECT coalesce(qual, with_check) FROM pg_policies WHERE policyname LIKE 'versatools\\_%%'")
    )


def test_reapply_installs_once_the_storage_schema_appears_and_only_while_migrated(
    settings,
) -> None:
    files_config = global_apps.get_app_config("files")
    post_migrate.send(
        sender=files_config,
        app_config=files_config,
        verbosity=0,
        interactive=False,
        using="default",
        apps=global_apps,
        plan=[],
    )
    assert sql("SELECT to_regnamespace('storage')") == [(None,)]  # nothing to do, nothing done

    sql(STORAGE_SCHEMA)  # Supabase's storage server migrates after this project
    post_migrate.send(
        sender=files_config,
        app_config=files_config,
        verbosity=0,
        interactive=False,
        using="default",
        apps=global_apps,
        plan=[],
    )
    assert bucket_row("versatools") is not None and len(our_policies()) == 4

    storage_bucket_uninstall()
    sql("DELETE FROM django_migrations WHERE app = 'files' AND name = '0009_supabase_storage_bucket'")
    assert storage_bucket_reapply() is False  # migrated back below it: not installed again
    assert bucket_row("versatools") is None and our_policies() == []


def test_the_reverse_removes_only_what_the_install_added(installed) -> None:
    sql("CREATE POLICY someone_elses ON storage.objects FOR SELECT TO authenticated USING (bucket_id = 'other')")
    add_bucket("other")

    storage_bucket_uninstall()

    assert our_policies() == [] and bucket_row(installed) is None
    assert bucket_row("other") is not None
    assert sql("SELECT policyname FROM pg_policies WHERE schemaname = 'storage'") == [("someone_elses",)]


def test_the_reverse_keeps_a_bucket_of_ours_that_holds_files(installed) -> None:
    put(installed, f"{uuid.uuid4()}/uploads/a.pdf")

    warnings = storage_bucket_uninstall()

    assert our_policies() == [] and bucket_row(installed) is not None
    assert len(warnings) == 1 and "holds objects" in warnings[0]


# --- The policies: each user's own folder, nothing else ------------------------


def test_the_policies_are_for_authenticated_only_and_one_per_command(installed) -> None:
    assert our_policies() == [
        ("versatools_objects_delete", "DELETE", ["authenticated"]),
        ("versatools_objects_insert", "INSERT", ["authenticated"]),
        ("versatools_objects_select", "SELECT", ["authenticated"]),
        ("versatools_objects_update", "UPDATE", ["authenticated"]),
    ]


class Denied(Exception):
    pass


@contextmanager
def denied_is_raised() -> Iterator[None]:
    """Run a statement in a savepoint; a refusal (42501) is raised as Denied, the savepoint rolled back."""
    try:
        with transaction.atomic():
            yield
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) == "42501":
            raise Denied(str(error)) from None
        raise


def as_user(user_id: uuid.UUID | None, statement: str, params: list | None = None) -> list[tuple] | int:
    """Rows a SELECT/RETURNING gives, or the row count of an UPDATE/DELETE, as the user (None: anon)."""
    with rls_as_user(user_id), denied_is_raised(), connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


@pytest.fixture
def world(installed):
    """Objects of users A and B in their folders, one at the bucket root, one in another bucket."""
    a, b = uuid.uuid4(), uuid.uuid4()
    add_bucket("other")
    now = timezone.now()
    keys = {
        "a": storage.build_key(user_id=a, entity="runs", ext="pdf", at=now),  # the app's real layout
        "b": storage.build_key(user_id=b, entity="uploads", ext="png", at=now),
        "root": "loose.pdf",
        "a_root": str(a),  # named like A's folder, but a file at the root
        "other_bucket": f"{a}/uploads/a.pdf",
    }
    ids = {
        name: put("other" if name == "other_bucket" else installed, key, owner=a if name != "b" else b)
        for name, key in keys.items()
    }
    return {"a": a, "b": b, "keys": keys, "ids": ids, "bucket": installed}


def test_a_user_reads_only_their_own_folder_of_the_bucket(world) -> None:
    rows = as_user(world["a"], "SELECT id FROM storage.objects")

    assert rows == [(world["ids"]["a"],)]
    assert as_user(world["b"], "SELECT id FROM storage.objects") == [(world["ids"]["b"],)]


def test_a_user_may_upload_into_their_folder_only(world) -> None:
    a, b, bucket = world["a"], world["b"], world["bucket"]
    insert = "INSERT INTO storage.objects (bucket_id, name, owner) VALUES (%s, %s, %s) RETURNING name"
    mine = storage.build_key(user_id=a, entity="uploads", ext="pdf", at=timezone.now())

    assert as_user(a, insert, [bucket, mine, a]) == [(mine,)]
    # B's folder, the bucket's root, a file at the root named like A's folder.
    for name in (f"{b}/uploads/x.pdf", "x.pdf", f"{a}"):
        with pytest.raises(Denied, match="row-level security"):
            as_user(a, insert, [bucket, name, a])
    with pytest.raises(Denied):
        as_user(a, insert, ["other", f"{a}/uploads/x.pdf", a])  # another bucket


def test_a_user_may_update_and_delete_in_their_folder_only(world) -> None:
    a, b, ids, bucket = world["a"], world["b"], world["ids"], world["bucket"]
    update = "UPDATE storage.objects SET metadata = '{}' WHERE id = %s"

    assert as_user(a, update, [ids["a"]]) == 1
    for other in ("b", "root", "a_root", "other_bucket"):
        assert as_user(a, update, [ids[other]]) == 0, other
    # Nor moved out of their folder.
    with pytest.raises(Denied, match="row-level security"):
        as_user(a, "UPDATE storage.objects SET name = %s WHERE id = %s", [f"{b}/stolen.pdf", ids["a"]])
    with pytest.raises(Denied, match="row-level security"):
        as_user(a, "UPDATE storage.objects SET bucket_id = 'other' WHERE id = %s", [ids["a"]])

    for other in ("b", "root", "a_root", "other_bucket"):
        assert as_user(a, "DELETE FROM storage.objects WHERE id = %s", [ids[other]]) == 0, other
    assert as_user(a, "DELETE FROM storage.objects WHERE id = %s", [ids["a"]]) == 1
    assert sql("SELECT count(*) FROM storage.objects WHERE bucket_id = %s", [bucket]) == [(3,)]  # b, root, a_root


def test_anon_gets_nothing(world) -> None:
    ids, a = world["ids"], world["a"]

    assert as_user(None, "SELECT id FROM storage.objects") == []
    with pytest.raises(Denied):
        as_user(None, "INSERT INTO storage.objects (bucket_id, name) VALUES (%s, %s)", [world["bucket"], f"{a}/x"])
    assert as_user(None, "UPDATE storage.objects SET metadata = '{}' WHERE id = %s", [ids["a"]]) == 0
    assert as_user(None, "DELETE FROM storage.objects WHERE id = %s", [ids["a"]]) == 0


def test_with_a_key_prefix_the_folder_is_the_segment_after_it(supabase_storage, settings) -> None:
    settings.STORAGE_KEY_PREFIX = "tenant-a/vt"
    storage_bucket_install()
    a = uuid.uuid4()
    key = storage.build_key(user_id=a, entity="runs", ext="pdf", at=timezone.now())
    assert key.startswith(f"tenant-a/vt/{a}/")
    mine, unprefixed = put("versatools", key), put("versatools", f"{a}/runs/x.pdf")
    put("versatools", f"tenant-a/{a}/x.pdf")  # a shorter prefix is not it either

    assert as_user(a, "SELECT id FROM storage.objects") == [(mine,)]
    assert unprefixed  # stored, but outside the app's folders: not A's


def test_without_a_prefix_the_folder_rule_is_seed_004s_foldername_rule(installed) -> None:
    # starts_with(name, uid || '/') and (storage.foldername(name))[1] = uid agree on every shape of name.
    a = str(uuid.uuid4())
    names = [f"{a}/x.pdf", f"{a}/runs/2026/11/x.pdf", a, f"{a}/", f"/{a}/x", f"{a}x/y", f"x/{a}/y", f"{a}//y", ""]
    rows = sql(
        "SELECT n, starts_with(n, %s || '/'), coalesce((storage.foldername(n))[1] = %s, false)"
        " FROM unnest(%s::text[]) AS n",
        [a, a, names],
    )
    assert [(name, ours) for name, ours, _ in rows] == [(name, seed) for name, _, seed in rows]


# --- The migration round trip (subprocesses, a scratch database) ---------------

SUPABASE_WITH_STORAGE = (
    """
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
CREATE SCHEMA auth;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
"""
    + STORAGE_SCHEMA
    + """
INSERT INTO storage.buckets (id, name) VALUES ('avatars', 'avatars');
CREATE POLICY avatars_read ON storage.objects FOR SELECT TO authenticated USING (bucket_id = 'avatars');
"""
)
STORAGE_STATE = """
SELECT (SELECT array_agg(id ORDER BY id) FROM storage.buckets),
       (SELECT array_agg(policyname::text ORDER BY policyname) FROM pg_policies WHERE schemaname = 'storage')
"""


@pytest.mark.slow
def test_the_migrations_install_the_bucket_remove_only_theirs_and_install_again(scratch) -> None:  # noqa: F811
    dsn, env = scratch
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SUPABASE_WITH_STORAGE)

    migrate(env)
    assert query(dsn, STORAGE_STATE) == [(["avatars", "versatools"], ["avatars_read", *OURS])]
    [(public, limit, types)] = query(
        dsn, "SELECT public, file_size_limit, allowed_mime_types FROM storage.buckets WHERE id = 'versatools'"
    )
    assert (public, types) == (False, sorted(allowed_types())) and limit >= 50 * 1024 * 1024

    migrate_to_zero(env)
    assert query(dsn, STORAGE_STATE) == [(["avatars"], ["avatars_read"])]

    migrate(env)
    assert query(dsn, STORAGE_STATE) == [(["avatars", "versatools"], ["avatars_read", *OURS])]
