"""Direct uploads: POST /api/uploads reserves, the client sends the bytes to S3, POST /api/runs starts.

Through the real request path (Django's test client) against moto's S3
server over HTTP: the bytes go from the test to the bucket with the signed
target exactly as a browser would send them, never through Django. Each
refusal is checked for what it leaves: no row, no object, the storage
counter and the balance where they were.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from billing.models import CreditBalance, Plan, Subscription, UsageCounter
from billing.selectors import STORAGE_METRIC
from billing.services import credit_balance_open
from conftest import run_concurrently
from files.models import StorageDeletion, StorageObject
from files.reconcile import storage_reconcile
from files.services import UPLOAD_START_GRACE, UPLOAD_TRANSFER_MARGIN
from history.expiry import expire_runs_and_files
from history.models import History, RunStatus
from history.processing import run_process
from tools.tests.test_tools import pdf_bytes, png_bytes

pytestmark = pytest.mark.django_db

PDF = pdf_bytes(1)


def storage_used(user) -> int:
    counter = UsageCounter.objects.filter(user=user, metric=STORAGE_METRIC).first()
    return counter.count if counter else 0


def balance(user) -> int:
    return CreditBalance.objects.get(user=user).credits_remaining


def reserve(client, headers, *, size=None, content_type="application/pdf", tool_id="pdf-merge", name="in.pdf"):
    size = len(PDF) if size is None else size
    return client.post(
        "/api/uploads",
        data=json.dumps({"tool_id": tool_id, "file_name": name, "content_type": content_type, "size": size}),
        content_type="application/json",
        headers=headers,
    )


def send(target: dict, body: bytes) -> requests.Response:
    """What a browser does with the target: a form POST (fields, then the file) or a PUT."""
    if target["method"] == "PUT":
        return requests.put(target["url"], data=body, headers=target["headers"], timeout=10)
    return requests.post(target["url"], data=target["fields"], files={"file": ("blob", body)}, timeout=10)


def start(client, headers, upload_ids, *, key="k-1", tool_id="pdf-merge"):
    return client.post(
        "/api/runs",
        data={"tool_id": tool_id, "upload_id": [str(upload_id) for upload_id in upload_ids]},
        headers={**headers, "Idempotency-Key": key},
    )


@pytest.fixture
def owner(user):
    credit_balance_open(user_id=user.id, credits=10)
    return user


@pytest.fixture
def headers(owner, bearer):
    return bearer(owner)


@pytest.fixture(autouse=True)
def _no_broker(settings):
    # The run is queued after commit; these tests run the work themselves (run_process).
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "memory://"


def assert_nothing_left(storage_env, owner, *, used_before=0, credits_before=10) -> None:
    assert not StorageObject.objects.filter(user=owner).exists()
    assert storage_env.keys() == set()
    assert storage_used(owner) == used_before
    assert balance(owner) == credits_before
    assert not History.objects.filter(user=owner).exists()


def test_reservation_signs_a_post_for_exactly_the_reserved_size_and_type(client, headers, owner, s3_storage) -> None:
    before = timezone.now()
    response = reserve(client, headers, size=len(PDF))

    assert response.status_code == 201, response.content
    body = response.json()
    target = body["target"]
    assert target["method"] == "POST"
    policy = json.loads(base64.b64decode(target["fields"]["policy"]))
    assert ["content-length-range", len(PDF), len(PDF)] in policy["conditions"]
    assert {"Content-Type": "application/pdf"} in policy["conditions"]
    assert {"key": target["fields"]["key"]} in policy["conditions"]
    expiration = timezone.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=590) < expiration < before + timedelta(seconds=610)
    # The key is the server's: the user's folder first (the bucket's folder policies), never the client's name.
    assert target["fields"]["key"].startswith(f"{owner.id}/uploads/")
    assert target["fields"]["key"].endswith(".pdf")
    row = StorageObject.objects.get(id=body["upload_id"])
    assert row.awaiting_upload and row.run_id is None and row.size == len(PDF)
    # The id outlives the target a little (a start after a late upload); the key may be written
    # for an hour past the target (an upload begun in its last second), and is deleted again then.
    # The policy's expiration is signed a moment after the row's clock read, in whole seconds.
    assert abs(row.expires_at - UPLOAD_START_GRACE - expiration) < timedelta(seconds=2)
    assert row.upload_writable_until - row.expires_at == UPLOAD_TRANSFER_MARGIN - UPLOAD_START_GRACE
    # The bytes are held from the reservation on: concurrent ones cannot overbook the quota.
    assert storage_used(owner) == len(PDF)
    # Nothing has reached storage yet.
    assert s3_storage.keys() == set()


@pytest.mark.parametrize("method", ["post", "put"])
def test_upload_straight_to_storage_then_start_and_process(
    client, headers, owner, s3_storage, settings, method
) -> None:
    settings.DIRECT_UPLOAD_METHOD = method
    pdfs = [pdf_bytes(2), pdf_bytes(1)]
    upload_ids = []
    for number, pdf in enumerate(pdfs):
        reserved = reserve(client, headers, size=len(pdf), name=f"part-{number}.pdf").json()
        sent = send(reserved["target"], pdf)
        assert sent.status_code in (200, 204), sent.text
        upload_ids.append(reserved["upload_id"])
    s3_storage.server.log.clear()

    started = start(client, headers, upload_ids)

    assert started.status_code == 201, started.content
    run = History.objects.get(id=started.json()["id"])
    assert run.status == RunStatus.PENDING
    assert run.input_file_name == "part-0.pdf (+1 more)"
    assert run.bytes_in == sum(len(pdf) for pdf in pdfs)
    inputs = StorageObject.objects.filter(id__in=upload_ids)
    assert {obj.run_id for obj in inputs} == {run.id}
    assert not any(obj.awaiting_upload for obj in inputs)
    assert all(obj.expires_at == run.expires_at for obj in inputs)
    # The check read each upload once, 8 KB of it at most: one ranged GET per file.
    assert s3_storage.server.log.requests["get"] == len(pdfs)

    run_process(run_id=run.id)

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.error_message
    assert run.metadata["pages"] == 3
    download = client.get(f"/api/runs/{run.id}/download", headers=headers)
    assert download.status_code == 302
    merged = requests.get(download["Location"], timeout=10)
    assert merged.status_code == 200 and merged.content.startswith(b"%PDF")
    assert balance(owner) == 10 - run.credits_charged
    assert storage_used(owner) == sum(obj.size for obj in StorageObject.objects.filter(user=owner))


def test_a_replayed_start_returns_the_same_run_and_a_reused_upload_is_refused(client, headers, owner, s3_storage):
    reserved = reserve(client, headers).json()
    send(reserved["target"], PDF)
    first = start(client, headers, [reserved["upload_id"]], key="once")
    assert first.status_code == 201
    charged = balance(owner)

    replay = start(client, headers, [reserved["upload_id"]], key="once")
    reused = start(client, headers, [reserved["upload_id"]], key="another")

    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    assert reused.status_code == 409 and reused.json()["error"] == "upload_used"
    assert History.objects.filter(user=owner).count() == 1
    assert balance(owner) == charged


# --- Refusals at the reservation: nothing is written ------------------------------


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"size": 51 * 1024 * 1024}, 413, "file_too_large"),
        ({"content_type": "text/html"}, 415, "file_type_not_allowed"),
        ({"content_type": "image/png"}, 415, "file_type_not_allowed"),  # an image, but not for this PDF tool
        ({"tool_id": "no-such-tool"}, 404, "unknown_tool"),
        ({"name": "../etc/passwd.pdf"}, 400, "file_name_invalid"),
        ({"size": 0}, 400, "invalid_input"),
    ],
)
def test_a_refused_reservation_writes_nothing(client, headers, owner, s3_storage, change, status, code) -> None:
    response = reserve(client, headers, **change)

    assert response.status_code == status, response.content
    assert response.json()["error"] == code
    assert_nothing_left(s3_storage, owner)


def test_a_reservation_beyond_the_storage_quota_is_refused(client, headers, owner, s3_storage) -> None:
    Plan.objects.update_or_create(key="free", defaults={"name": "Free", "credits": 0, "storage_bytes": len(PDF) * 2})
    Subscription.objects.update_or_create(user=owner, defaults={"plan": Plan.objects.get(key="free")})
    assert reserve(client, headers).status_code == 201
    assert reserve(client, headers).status_code == 201

    third = reserve(client, headers)

    assert third.status_code == 429 and third.json()["error"] == "quota_exceeded"
    assert StorageObject.objects.filter(user=owner).count() == 2
    assert storage_used(owner) == len(PDF) * 2


@pytest.mark.both_dialects
def test_filesystem_storage_has_no_direct_uploads(client, headers, owner, fs_storage) -> None:
    response = reserve(client, headers)

    assert response.status_code == 400
    assert response.json()["error"] == "direct_upload_unavailable"
    assert "POST /api/runs" in response.json()["detail"]
    assert_nothing_left(fs_storage, owner)


def test_an_unverified_sender_cannot_reserve(client, make_user, bearer, s3_storage) -> None:
    stranger = make_user(verified=False)
    credit_balance_open(user_id=stranger.id, credits=10)

    response = reserve(client, bearer(stranger))

    assert response.status_code == 403 and response.json()["error"] == "email_unverified"
    assert_nothing_left(s3_storage, stranger)


# --- Refusals at the start: the upload is deleted, its bytes come back --------------


def _wait_for_owed_deletes(storage_env) -> None:
    # The blob's delete is owed in the refusing transaction and done after commit; finish what is owed.
    from files.cleanup import storage_deletions_process

    storage_deletions_process(ids=StorageDeletion.objects.values_list("id", flat=True))


@pytest.mark.parametrize(
    ("sent", "status", "code"),
    [
        (PDF + b"% a few more bytes than reserved", 413, "file_too_large"),
        (PDF[:-10], 400, "upload_mismatch"),
        (b"<html><script>alert(1)</script></html>".ljust(len(PDF), b" "), 415, "file_type_not_allowed"),
        (png_bytes()[: len(PDF)], 415, "file_type_not_allowed"),
        (None, 409, "upload_missing"),
    ],
    ids=["too-big", "too-small", "html-declared-pdf", "png-declared-pdf", "nothing-sent"],
)
def test_an_upload_that_is_not_what_was_reserved_is_refused_and_removed(
    client, headers, owner, s3_storage, sent, status, code
) -> None:
    reserved = reserve(client, headers).json()
    target_expires_at = StorageObject.objects.get(id=reserved["upload_id"]).upload_writable_until
    if sent is not None:
        # moto accepts what the policy forbids (AWS would refuse the too-big one itself): the start must check.
        assert send(reserved["target"], sent).status_code in (200, 204)

    response = start(client, headers, [reserved["upload_id"]])

    assert response.status_code == status, response.content
    assert response.json()["error"] == code
    _wait_for_owed_deletes(s3_storage)
    assert_nothing_left(s3_storage, owner)
    # All that is left is the key's second delete, due when its signed target stops working.
    assert list(StorageDeletion.objects.values_list("not_before", flat=True)) == [target_expires_at]


def test_an_expired_upload_id_is_refused_and_removed(client, headers, owner, s3_storage) -> None:
    reserved = reserve(client, headers).json()
    send(reserved["target"], PDF)
    StorageObject.objects.filter(id=reserved["upload_id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = start(client, headers, [reserved["upload_id"]])

    assert response.status_code == 410 and response.json()["error"] == "upload_expired"
    _wait_for_owed_deletes(s3_storage)
    assert_nothing_left(s3_storage, owner)


def test_another_users_upload_id_is_not_found_and_stays_theirs(client, headers, owner, make_user, bearer, s3_storage):
    other = make_user()
    theirs = reserve(client, bearer(other)).json()
    send(theirs["target"], PDF)

    response = start(client, headers, [theirs["upload_id"]])

    assert response.status_code == 404 and response.json()["error"] == "upload_not_found"
    row = StorageObject.objects.get(id=theirs["upload_id"])
    assert row.user_id == other.id and row.awaiting_upload
    assert storage_used(other) == len(PDF)
    assert not StorageObject.objects.filter(user=owner).exists() and balance(owner) == 10


def test_an_unknown_upload_id_and_a_start_with_both_inputs_are_refused(client, headers, owner, s3_storage) -> None:
    unknown = start(client, headers, [uuid.uuid4()])
    reserved = reserve(client, headers).json()
    both = client.post(
        "/api/runs",
        data={"tool_id": "pdf-merge", "upload_id": reserved["upload_id"], "file": SimpleUploadedFile("a.pdf", PDF)},
        headers={**headers, "Idempotency-Key": "both"},
    )
    twice = start(client, headers, [reserved["upload_id"], reserved["upload_id"]])

    assert unknown.status_code == 404 and unknown.json()["error"] == "upload_not_found"
    assert both.status_code == 400 and both.json()["error"] == "invalid_input"
    assert twice.status_code == 400 and twice.json()["error"] == "upload_invalid"
    assert not History.objects.exists() and balance(owner) == 10
    # The reservation itself was not touched by the refused starts.
    assert StorageObject.objects.get(id=reserved["upload_id"]).awaiting_upload


def test_a_start_refused_for_credits_keeps_the_reservation_for_a_retry(client, headers, owner, s3_storage) -> None:
    CreditBalance.objects.filter(user=owner).update(credits_remaining=0)
    reserved = reserve(client, headers).json()
    send(reserved["target"], PDF)

    refused = start(client, headers, [reserved["upload_id"]], key="poor")
    CreditBalance.objects.filter(user=owner).update(credits_remaining=10)
    retried = start(client, headers, [reserved["upload_id"]], key="poor")

    assert refused.status_code == 402, refused.content
    assert retried.status_code == 201, retried.content
    assert History.objects.filter(user=owner).count() == 1


# --- The reservation's life: deleted by its owner, expired, reconciled, rewritten ----


def test_an_unused_reservation_expires_and_the_pass_removes_its_object_and_bytes(
    client, headers, owner, s3_storage
) -> None:
    reserved = reserve(client, headers).json()
    send(reserved["target"], PDF)
    row = StorageObject.objects.get(id=reserved["upload_id"])
    assert s3_storage.keys() == {row.key}

    early = expire_runs_and_files(now=row.expires_at - timedelta(seconds=1))
    assert StorageObject.objects.filter(id=row.id).exists() and early.object_rows_deleted == 0

    result = expire_runs_and_files(now=row.expires_at + timedelta(seconds=1))

    assert result.object_rows_deleted == 1
    assert_nothing_left(s3_storage, owner)
    # An upload begun in the target's last second may still land: the key is deleted once more then.
    assert list(StorageDeletion.objects.values_list("key", "not_before")) == [(row.key, row.upload_writable_until)]


def test_the_owner_can_cancel_a_reservation_through_the_file_list(client, headers, owner, s3_storage) -> None:
    reserved = reserve(client, headers).json()
    send(reserved["target"], PDF)
    listed = client.get("/api/files", headers=headers).json()
    assert [(item["id"], item["awaiting_upload"]) for item in listed["items"]] == [(reserved["upload_id"], True)]
    assert listed["storage"]["used_bytes"] == len(PDF)

    deleted = client.delete(f"/api/files/{reserved['upload_id']}", headers=headers)

    assert deleted.status_code == 204
    _wait_for_owed_deletes(s3_storage)
    assert_nothing_left(s3_storage, owner)


def test_reconcile_does_not_take_a_pending_reservation_for_a_lost_object(client, headers, owner, s3_storage) -> None:
    reserved = reserve(client, headers).json()  # reserved, nothing sent yet

    result = storage_reconcile(repair=True, grace=timedelta(0), now=timezone.now() + timedelta(seconds=1))

    assert result.rows_missing_object == 0 and result.counters_off == 0
    assert StorageObject.objects.get(id=reserved["upload_id"]).awaiting_upload


def test_an_upload_rewritten_after_the_check_fails_its_run_in_the_worker(client, headers, owner, s3_storage) -> None:
    reserved = reserve(client, headers).json()
    send(reserved["target"], PDF)
    started = start(client, headers, [reserved["upload_id"]])
    assert started.status_code == 201
    # The signed target is still valid: the client sends other bytes of the same size.
    send(reserved["target"], b"<html>" + b" " * (len(PDF) - 6))

    run_process(run_id=started.json()["id"])

    run = History.objects.get(id=started.json()["id"])
    assert run.status == RunStatus.FAILED
    assert "changed after it was checked" in run.error_message
    assert balance(owner) == 10  # refunded


# --- Concurrency ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_reservations_at_once_against_room_for_five(make_user, bearer, s3_storage) -> None:
    from django.test import Client

    racer = make_user()
    plan, _ = Plan.objects.update_or_create(
        key="free", defaults={"name": "Free", "credits": 0, "storage_bytes": len(PDF) * 5}
    )
    Subscription.objects.update_or_create(user=racer, defaults={"plan": plan})
    headers = bearer(racer)

    responses = run_concurrently(lambda i: reserve(Client(), headers, name=f"r{i}.pdf"), 20)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 5 + [429] * 15, [getattr(r, "content", r) for r in responses]
    granted = {response.json()["upload_id"] for response in responses if response.status_code == 201}
    assert set(map(str, StorageObject.objects.filter(user=racer).values_list("id", flat=True))) == granted
    assert storage_used(racer) == len(PDF) * 5


@pytest.mark.parametrize("how", ["cancelled", "refused", "run-deleted"])
def test_a_signed_target_used_again_after_its_row_went_is_cleaned_once_it_expires(
    client, headers, owner, s3_storage, how
) -> None:
    reserved = reserve(client, headers).json()
    row = StorageObject.objects.get(id=reserved["upload_id"])
    if how == "cancelled":
        send(reserved["target"], PDF)
        assert client.delete(f"/api/files/{row.id}", headers=headers).status_code == 204
    elif how == "refused":
        send(reserved["target"], b"<html>".ljust(len(PDF), b" "))
        assert start(client, headers, [row.id]).status_code == 415
    else:
        send(reserved["target"], PDF)
        run_id = start(client, headers, [row.id]).json()["id"]
        assert client.delete(f"/api/history/{run_id}", headers=headers).status_code == 204
    _wait_for_owed_deletes(s3_storage)
    assert s3_storage.keys() == set() and storage_used(owner) == 0
    # The target still works: the same key is written again, with no row to track it...
    send(reserved["target"], PDF)
    assert s3_storage.keys() == {row.key}
    # ...but its second delete is owed, not yet due: the pass before the target's expiry leaves it.
    owed = StorageDeletion.objects.get(key=row.key)
    assert owed.not_before == row.upload_writable_until
    expire_runs_and_files(now=row.upload_writable_until - timedelta(seconds=1))
    assert s3_storage.keys() == {row.key}

    result = expire_runs_and_files(now=row.upload_writable_until + timedelta(seconds=1))

    assert result.deletions_completed == 1
    assert s3_storage.keys() == set() and not StorageDeletion.objects.exists()
    assert storage_used(owner) == 0 and balance(owner) == 10


@pytest.mark.both_dialects
def test_a_row_deleted_while_its_signed_target_works_owes_its_key_a_second_delete_then(owner, fs_storage) -> None:
    """The database's own bookkeeping (sql/triggers/storage_upload_targets_deleted.sql and its SQLite twin)."""
    from files.cleanup import storage_deletions_process

    now = timezone.now()
    common = {"user": owner, "original_name": "a.pdf", "content_type": "application/pdf", "size": 5}
    signed = StorageObject.objects.create(
        key=f"{owner.id}/uploads/a.pdf",
        expires_at=now + timedelta(hours=1),
        upload_writable_until=now + timedelta(minutes=10),
        **common,
    )
    StorageObject.objects.create(
        key=f"{owner.id}/uploads/b.pdf",
        expires_at=now + timedelta(hours=1),
        upload_writable_until=now - timedelta(minutes=1),
        **common,
    )
    StorageObject.objects.create(key=f"{owner.id}/uploads/c.pdf", expires_at=now + timedelta(hours=1), **common)

    StorageObject.objects.filter(user=owner).delete()

    owed = sorted(
        StorageDeletion.objects.values_list("key", "not_before"), key=lambda row: (row[0], row[1] is not None)
    )
    assert owed == [
        (signed.key, None),
        (signed.key, signed.upload_writable_until),  # its target still works: again once it expires
        (f"{owner.id}/uploads/b.pdf", None),  # expired target: one delete is enough
        (f"{owner.id}/uploads/c.pdf", None),  # written by the app: no target at all
    ]
    # Asking for the key's deletes now does only the one due now.
    done = storage_deletions_process(keys=[signed.key])
    assert done.deletions_completed == 1
    assert list(StorageDeletion.objects.filter(key=signed.key).values_list("not_before", flat=True)) == [
        signed.upload_writable_until
    ]


def test_urls_for_browsers_are_signed_for_the_public_endpoint(client, headers, owner, s3_storage, settings) -> None:
    """docker-compose's case: the app reaches storage as one host, browsers as another."""
    from urllib.parse import urlsplit

    internal = urlsplit(s3_storage.server.endpoint)
    assert internal.hostname == "127.0.0.1"
    settings.S3_PUBLIC_ENDPOINT_URL = f"http://localhost:{internal.port}"
    reserved = reserve(client, headers).json()

    assert urlsplit(reserved["target"]["url"]).hostname == "localhost"
    assert send(reserved["target"], PDF).status_code in (200, 204)
    run_id = start(client, headers, [reserved["upload_id"]]).json()["id"]
    run_process(run_id=run_id)
    download = client.get(f"/api/runs/{run_id}/download", headers=headers)
    assert download.status_code == 302
    assert urlsplit(download["Location"]).hostname == "localhost"
    fetched = requests.get(download["Location"], timeout=10)
    assert fetched.status_code == 200 and fetched.content.startswith(b"%PDF")


def test_an_upload_reserved_for_one_tool_cannot_start_another_that_does_not_take_it(
    client, headers, owner, s3_storage
) -> None:
    image = png_bytes()
    reserved = reserve(client, headers, size=len(image), content_type="image/png", tool_id="image-compress").json()
    send(reserved["target"], image)

    response = start(client, headers, [reserved["upload_id"]], tool_id="pdf-merge")

    assert response.status_code == 415 and response.json()["error"] == "file_type_not_allowed"
    assert "image/png" in response.json()["detail"]
    assert not History.objects.exists() and balance(owner) == 10
    # The upload is fine for its own tool: kept, and it still starts there.
    assert StorageObject.objects.get(id=reserved["upload_id"]).awaiting_upload
    assert start(client, headers, [reserved["upload_id"]], tool_id="image-compress", key="k-2").status_code == 201


def test_a_replay_finds_its_run_even_after_the_input_file_was_deleted(client, headers, owner, s3_storage) -> None:
    reserved = reserve(client, headers).json()
    send(reserved["target"], PDF)
    first = start(client, headers, [reserved["upload_id"]], key="retry-me")
    run_process(run_id=first.json()["id"])
    assert client.delete(f"/api/files/{reserved['upload_id']}", headers=headers).status_code == 204

    replay = start(client, headers, [reserved["upload_id"]], key="retry-me")

    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]


def test_an_upload_rewritten_larger_after_the_check_fails_its_run_before_the_tool_reads_it(
    client, headers, owner, s3_storage
) -> None:
    reserved = reserve(client, headers).json()
    send(reserved["target"], PDF)
    started = start(client, headers, [reserved["upload_id"]])
    # moto does not enforce the policy's content-length-range (AWS does): the worker checks again.
    send(reserved["target"], PDF + b"%" * 10_000)

    run_process(run_id=started.json()["id"])

    run = History.objects.get(id=started.json()["id"])
    assert run.status == RunStatus.FAILED
    assert f"it is now {len(PDF) + 10_000} bytes, not {len(PDF)}" in run.error_message
    assert balance(owner) == 10


@pytest.mark.django_db(transaction=True)
def test_starts_racing_on_one_upload_with_different_keys_start_it_once(make_user, bearer, s3_storage) -> None:
    from django.test import Client

    racer = make_user()
    credit_balance_open(user_id=racer.id, credits=10)
    headers = bearer(racer)
    reserved = reserve(Client(), headers).json()
    send(reserved["target"], PDF)

    responses = run_concurrently(lambda i: start(Client(), headers, [reserved["upload_id"]], key=f"race-{i}"), 8)

    outcomes = sorted((response.status_code, response.json().get("error")) for response in responses)
    assert outcomes == [(201, None)] + [(409, "upload_used")] * 7, outcomes
    run = History.objects.get(user=racer)
    assert balance(racer) == 10 - run.credits_charged
    assert StorageObject.objects.get(id=reserved["upload_id"]).run_id == run.id
