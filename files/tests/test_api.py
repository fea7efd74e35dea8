"""GET /api/files and DELETE /api/files/{id}, through the real request path."""

from __future__ import annotations

import base64
import itertools
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Plan, UsageCounter
from billing.selectors import STORAGE_METRIC
from files import storage
from files.models import StorageDeletion, StorageObject
from files.selectors import _FILE_COLUMNS, FilePage, _stored_file
from files.services import storage_object_store

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
_names = itertools.count(1)


def make_file(user, *, run=None, role="input", created_at=None, expires_in=timedelta(hours=1), size=3):
    """A stored object's row (no blob: the list reads rows only), created at ``created_at``."""
    now = timezone.now()
    obj = StorageObject.objects.create(
        user=user,
        run=run,
        role=role,
        key=storage.build_key(user_id=user.id, entity="runs" if run else "uploads", ext="pdf", at=now),
        original_name=f"file-{next(_names)}.pdf",
        content_type="application/pdf",
        size=size,
        expires_at=now + expires_in,
    )
    if created_at is not None:
        StorageObject.objects.filter(id=obj.id).update(created_at=created_at)
        obj.refresh_from_db()
    return obj


def as_json(value):
    return DjangoJSONEncoder().default(value)  # what ninja renders: milliseconds, Z


def storage_used(user) -> int:
    counter = UsageCounter.objects.filter(user=user, metric=STORAGE_METRIC).first()
    return counter.count if counter else 0


def all_pages(client, headers, query: str = "", limit: int = 7) -> list[dict]:
    pages, cursor = [], ""
    while True:
        response = client.get(f"/api/files?limit={limit}{query}{cursor}", headers=headers)
        assert response.status_code == 200, response.content
        pages.append(response.json())
        if not pages[-1]["next_cursor"]:
            return pages
        cursor = f"&cursor={pages[-1]['next_cursor']}"


# --- The list --------------------------------------------------------------------


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_pages_cover_every_file_once_newest_first_ties_included(client, make_user, bearer) -> None:
    me, other = make_user(), make_user()
    base = timezone.now() - timedelta(minutes=5)
    # 23 files, several created at the same instant: the id orders them.
    instants = [base - timedelta(seconds=i // 3) for i in range(23)]
    mine = [make_file(me, created_at=at) for at in instants]
    make_file(other)

    pages = all_pages(client, bearer(me))

    seen = [item["id"] for page in pages for item in page["items"]]
    expected = sorted(mine, key=lambda obj: (obj.created_at, obj.id), reverse=True)
    assert seen == [str(obj.id) for obj in expected]  # no duplicate, no gap, in order
    assert [len(page["items"]) for page in pages] == [7, 7, 7, 2]
    assert pages[-1]["next_cursor"] is None


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_an_item_says_what_the_file_is_and_which_run_and_tool_made_it(client, user, make_run, bearer) -> None:
    run = make_run(user, tool_id="image-compress", tool_name="Old name", status="COMPLETED")
    output = make_file(user, run=run, role="output", size=1234)
    upload = make_file(user)

    items = client.get("/api/files", headers=bearer(user)).json()["items"]

    by_id = {item["id"]: item for item in items}
    assert by_id[str(output.id)] == {
        "id": str(output.id),
        "name": output.original_name,
        "kind": "output",
        "content_type": "application/pdf",
        "size": 1234,
        "tool": {"id": "image-compress", "name": "Image Compressor"},  # the registry's name
        "run_id": str(run.id),
        "created_at": as_json(output.created_at),
        "expires_at": as_json(output.expires_at),
        "awaiting_upload": False,
    }
    assert by_id[str(upload.id)]["tool"] is None and by_id[str(upload.id)]["run_id"] is None


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_a_tool_gone_from_the_registry_keeps_the_name_its_run_recorded(client, user, make_run, bearer) -> None:
    run = make_run(user, tool_id="retired-tool", tool_name="Retired Tool", status="COMPLETED")
    make_file(user, run=run, role="output")

    [item] = client.get("/api/files", headers=bearer(user)).json()["items"]

    assert item["tool"] == {"id": "retired-tool", "name": "Retired Tool"}


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_expired_files_are_not_listed(client, user, bearer) -> None:
    live = make_file(user)
    make_file(user, expires_in=timedelta(seconds=-1))

    items = client.get("/api/files", headers=bearer(user)).json()["items"]

    assert [item["id"] for item in items] == [str(live.id)]


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_files_filter_by_kind_and_by_tool(client, user, make_run, bearer) -> None:
    merge = make_run(user, tool_id="pdf-merge", status="COMPLETED")
    compress = make_run(user, tool_id="pdf-compress", status="COMPLETED")
    merge_in, merge_out = make_file(user, run=merge), make_file(user, run=merge, role="output")
    compress_in, compress_out = make_file(user, run=compress), make_file(user, run=compress, role="output")
    upload = make_file(user)
    headers = bearer(user)

    def ids(query: str) -> set[str]:
        return {item["id"] for page in all_pages(client, headers, query, limit=2) for item in page["items"]}

    assert ids("&kind=input") == {str(merge_in.id), str(compress_in.id), str(upload.id)}
    assert ids("&kind=output") == {str(merge_out.id), str(compress_out.id)}
    assert ids("&tool=pdf-merge") == {str(merge_in.id), str(merge_out.id)}
    assert ids("&tool=pdf-compress&kind=output") == {str(compress_out.id)}
    assert ids("&tool=image-convert") == set()  # a known tool without files: an empty list


@pytest.mark.both_dialects
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("tool=no-such-tool", None, id="unknown-tool"),
        pytest.param("kind=thumbnail", "kind", id="unknown-kind"),
        pytest.param("limit=0", "limit", id="limit-0"),
        pytest.param("limit=101", "limit", id="limit-101"),
        pytest.param("cursor=not-a-cursor", None, id="cursor-garbage"),
        # Well-formed base64 of something this API never returned: a naive time, a bad id.
        pytest.param(
            "cursor=" + base64.urlsafe_b64encode(b"2026-01-01T00:00:00|" + str(uuid.UUID(int=7)).encode()).decode(),
            None,
            id="cursor-naive-time",
        ),
        pytest.param(
            "cursor=" + base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|nope").decode(), None, id="cursor-bad-id"
        ),
    ],
)
def test_bad_filters_and_cursors_are_400_json(client, user, bearer, query: str, field: str | None) -> None:
    response = client.get(f"/api/files?{query}", headers=bearer(user))

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_input"
    if field is None:
        assert isinstance(body["detail"], str) and body["detail"]
    else:
        assert any(problem["field"].endswith(field) for problem in body["detail"])


@pytest.mark.django_db
def test_an_unknown_tool_is_named_with_the_known_ones(client, user, bearer) -> None:
    detail = client.get("/api/files?tool=pdf-mrege", headers=bearer(user)).json()["detail"]

    assert "'pdf-mrege'" in detail and "pdf-merge" in detail


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_the_limit_defaults_to_20(client, user, bearer) -> None:
    for _ in range(21):
        make_file(user)

    page = client.get("/api/files", headers=bearer(user)).json()

    assert len(page["items"]) == 20 and page["next_cursor"]


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_the_storage_figures_are_the_counter_and_the_plan_in_force(client, user, bearer, fs_storage) -> None:
    Plan.objects.create(key="free", name="Free", credits=1, storage_bytes=123_456)
    stored = storage_object_store(user_id=user.id, content=PDF, name="a.pdf")
    storage_object_store(user_id=user.id, content=PDF, name="b.pdf")

    figures = client.get("/api/files?limit=1", headers=bearer(user)).json()["storage"]

    assert figures == {"used_bytes": 2 * len(PDF), "limit_bytes": 123_456}
    assert figures["used_bytes"] == storage_used(user) == 2 * stored.size


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_a_user_with_nothing_stored_uses_zero(client, user, bearer) -> None:
    body = client.get("/api/files", headers=bearer(user)).json()

    assert body["items"] == [] and body["next_cursor"] is None
    assert body["storage"]["used_bytes"] == 0 and body["storage"]["limit_bytes"] > 0


@pytest.mark.django_db(transaction=True)  # the request's transaction is the outermost, as in production
def test_the_list_costs_the_same_queries_for_3_files_or_60(client, make_user, make_run, bearer) -> None:
    def count(user) -> int:
        headers = bearer(user)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/files?limit=100", headers=headers).status_code == 200
        statements = [query["sql"] for query in queries.captured_queries]
        # Read as the caller under RLS: one transaction, the switch first, nothing after it but reads.
        assert statements[1] == "BEGIN" and "set_config('role', 'authenticated'" in statements[2]
        assert str(user.pk) in statements[2] and statements[-1] == "COMMIT"
        return len(statements)

    few, many = make_user(), make_user()
    for owner, files in ((few, 3), (many, 60)):
        run = make_run(owner, status="COMPLETED")
        for i in range(files):
            make_file(owner, run=run if i % 2 else None, role="output" if i % 4 == 1 else "input")

    # The caller (as Django's role), then BEGIN, the switch, the page, the counter, the plan, COMMIT.
    assert count(few) == count(many) == 7


@pytest.mark.django_db
def test_a_list_that_forgot_its_filter_still_returns_only_the_callers_files(
    client, make_user, bearer, monkeypatch
) -> None:
    alice, bob = make_user(), make_user()
    alice_files = {str(make_file(alice).id), str(make_file(alice).id)}
    make_file(bob)

    def everything(**_):  # every row of the table, read inside the request's RLS block
        return FilePage(
            items=[_stored_file(row) for row in StorageObject.objects.values(*_FILE_COLUMNS)], next_cursor=None
        )

    monkeypatch.setattr("files.api.storage_objects_page", everything)
    monkeypatch.setattr(
        "files.api.storage_usage",
        lambda **_: SimpleNamespace(used_bytes=UsageCounter.objects.count(), limit_bytes=1),
    )

    body = client.get("/api/files", headers=bearer(alice)).json()

    assert {item["id"] for item in body["items"]} == alice_files
    assert StorageObject.objects.count() == 3  # Django's own role, outside the request, sees all three


# --- Delete ----------------------------------------------------------------------


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_deleting_a_file_is_204_gives_the_bytes_back_and_deletes_the_blob(
    client, user, make_run, bearer, fs_storage
) -> None:
    run = make_run(user, status="COMPLETED")
    doomed = storage_object_store(user_id=user.id, content=PDF, name="a.pdf", run_id=run.id)
    kept = storage_object_store(user_id=user.id, content=PDF, name="b.pdf")

    response = client.delete(f"/api/files/{doomed.id}", headers=bearer(user))

    assert response.status_code == 204 and response.content == b""
    assert not StorageObject.objects.filter(id=doomed.id).exists()
    assert storage_used(user) == kept.size
    # The trigger owed the blob its delete; it was done after commit (tasks run eagerly here).
    assert fs_storage.keys() == {kept.key} and StorageDeletion.objects.count() == 0
    listed = client.get("/api/files", headers=bearer(user)).json()
    assert [item["id"] for item in listed["items"]] == [str(kept.id)]
    assert listed["storage"]["used_bytes"] == kept.size


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_deleting_another_users_file_or_a_missing_one_is_404(client, make_user, bearer) -> None:
    me, other = make_user(), make_user()
    theirs = make_file(other)

    for file_id in (theirs.id, uuid.uuid4()):
        response = client.delete(f"/api/files/{file_id}", headers=bearer(me))
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert StorageObject.objects.filter(id=theirs.id).exists()


@pytest.mark.both_dialects
@pytest.mark.django_db
@pytest.mark.parametrize(("status", "role"), [("PENDING", "input"), ("PROCESSING", "input"), ("PROCESSING", "output")])
def test_a_file_of_an_unfinished_run_is_409_and_stays(client, user, make_run, bearer, status, role) -> None:
    run = make_run(user, status=status)
    busy = make_file(user, run=run, role=role)

    response = client.delete(f"/api/files/{busy.id}", headers=bearer(user))

    assert response.status_code == 409
    assert response.json()["error"] == "file_in_use"
    assert StorageObject.objects.filter(id=busy.id).exists()


@pytest.mark.both_dialects
@pytest.mark.django_db
@pytest.mark.parametrize("status", ["COMPLETED", "FAILED"])
def test_a_file_of_a_finished_run_or_an_upload_may_be_deleted(client, user, make_run, bearer, status) -> None:
    run = make_run(user, status=status)
    files = [make_file(user, run=run), make_file(user, run=run, role="output"), make_file(user)]

    for obj in files:
        assert client.delete(f"/api/files/{obj.id}", headers=bearer(user)).status_code == 204

    assert not StorageObject.objects.filter(user=user).exists()
    run.refresh_from_db()
    assert run.status == status  # the run stays; its output is simply gone


@pytest.mark.django_db
def test_delete_needs_a_signed_in_caller_and_a_uuid(client, user, bearer) -> None:
    obj = make_file(user)

    assert client.delete(f"/api/files/{obj.id}").status_code == 401
    response = client.delete("/api/files/not-a-uuid", headers=bearer(user))
    assert response.status_code == 400 and response.json()["error"] == "invalid_input"
    assert StorageObject.objects.filter(id=obj.id).exists()
