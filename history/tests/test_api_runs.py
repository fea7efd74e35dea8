"""POST /api/runs and GET /api/runs/{id}/download against real storage."""
# The storage fixtures are imported from the files app's conftest; test
# arguments of the same names are how pytest injects them (not redefinitions).
# ruff: noqa: F811

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from billing.models import CreditBalance, CreditLedgerEntry, Plan, Subscription
from billing.services import credit_balance_open
from demo.samples import sample_output
from files.models import StorageObject
from files.tests.conftest import fs_storage, s3_server, s3_storage  # noqa: F401  (shared storage fixtures)
from history.models import History

PNG = sample_output("image-compress")[2]
PDF = sample_output("pdf-merge")[2]


def post_run(client, headers, *, tool_id="image-compress", name="photo.png", content=PNG, key="key-1", **extra):
    data = {"tool_id": tool_id, "file": SimpleUploadedFile(name, content, content_type="image/png")}
    if key is not None:
        headers = {**headers, "Idempotency-Key": key}
    return client.post("/api/runs", data=data, headers=headers, **extra)


def files_on_disk(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def nothing_left(user, root: Path) -> None:
    assert History.objects.filter(user=user).count() == 0
    assert StorageObject.objects.filter(user=user).count() == 0
    assert files_on_disk(root) == []
    assert not CreditLedgerEntry.objects.filter(user=user, operation_type="tool_run").exists()


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_upload_starts_a_pending_run_with_its_input_stored(client, user, bearer, fs_storage) -> None:
    credit_balance_open(user_id=user.id, credits=10)

    response = post_run(client, bearer(user))

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["tool_id"], body["input_file_name"], body["bytes_in"]) == (
        "PENDING",
        "image-compress",
        "photo.png",
        len(PNG),
    )
    stored = StorageObject.objects.get(user=user, role="input")
    assert (str(stored.run_id), stored.content_type, stored.size) == (body["id"], "image/png", len(PNG))
    assert stored.expires_at == History.objects.get(id=body["id"]).expires_at
    assert PNG in [path.read_bytes() for path in files_on_disk(fs_storage.root)]
    assert CreditBalance.objects.get(user=user).credits_remaining == 9


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_a_replayed_idempotency_key_returns_the_run_and_stores_nothing_more(client, user, bearer, fs_storage) -> None:
    first = post_run(client, bearer(user))
    again = post_run(client, bearer(user))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert StorageObject.objects.filter(user=user, role="input").count() == 1
    assert len(files_on_disk(fs_storage.root)) == StorageObject.objects.filter(user=user).count()
    assert CreditLedgerEntry.objects.filter(user=user, operation_type="tool_run").count() == 1


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "case,status,code",
    [
        ("no-key", 400, "invalid_input"),
        ("no-file", 400, "invalid_input"),
        ("unknown-tool", 404, "unknown_tool"),
        ("html-as-png", 415, "file_type_not_allowed"),
        ("pdf-to-image-tool", 415, "file_type_not_allowed"),
        ("too-large", 413, "file_too_large"),
        ("no-credits", 402, "insufficient_credits"),
        ("quota", 429, "quota_exceeded"),
        ("empty-file", 400, "upload_invalid"),
    ],
)
def test_bad_uploads_are_refused_with_a_json_reason_and_leave_nothing(
    client, user, bearer, fs_storage, case: str, status: int, code: str
) -> None:
    headers = bearer(user)
    kwargs: dict = {}
    if case == "no-key":
        kwargs["key"] = None
    elif case == "unknown-tool":
        kwargs["tool_id"] = "video-melter"
    elif case == "html-as-png":
        kwargs["content"] = b"<!doctype html><html><script>alert(1)</script></html>"
    elif case == "pdf-to-image-tool":
        kwargs.update(content=PDF, name="doc.pdf")
    elif case == "too-large":
        plan = Plan.objects.create(key="small", name="Small", credits=0, max_file_bytes=len(PNG) - 1)
        Subscription.objects.create(user=user, plan=plan)
    elif case == "no-credits":
        credit_balance_open(user_id=user.id, credits=0)
    elif case == "quota":
        plan = Plan.objects.create(key="none", name="None", credits=0, runs_per_window=0)
        Subscription.objects.create(user=user, plan=plan)
    elif case == "empty-file":
        kwargs["content"] = b""

    if case == "no-file":
        response = client.post(
            "/api/runs", data={"tool_id": "image-compress"}, headers={**headers, "Idempotency-Key": "k"}
        )
    else:
        response = post_run(client, headers, **kwargs)

    assert response.status_code == status, response.content
    assert response.json()["error"] == code
    assert response.json()["detail"]
    nothing_left(user, fs_storage.root)


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_reusing_a_key_for_another_file_is_409_and_keeps_only_the_first(client, user, bearer, fs_storage) -> None:
    post_run(client, bearer(user))

    response = post_run(client, bearer(user), name="other.png", content=PNG + b"\0" * 10)

    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_key_reused"
    assert StorageObject.objects.filter(user=user, role="input").count() == 1
    assert len(files_on_disk(fs_storage.root)) == StorageObject.objects.filter(user=user).count()


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_the_same_key_with_other_bytes_of_the_same_name_and_size_is_409(client, user, bearer, fs_storage) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    first = post_run(client, bearer(user), content=PNG + b"\0" * 10)
    assert first.status_code == 201, first.content

    same = post_run(client, bearer(user), content=PNG + b"\0" * 10)
    other = post_run(client, bearer(user), content=PNG + b"\1" * 10)  # same name, same size, other bytes

    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    assert other.status_code == 409 and other.json()["error"] == "idempotency_key_reused"
    assert History.objects.filter(user=user).count() == 1
    assert CreditLedgerEntry.objects.filter(user=user, operation_type="tool_run").count() == 1
    assert len(files_on_disk(fs_storage.root)) == StorageObject.objects.filter(user=user).count()


def output_of(run_id) -> StorageObject:
    return StorageObject.objects.get(run_id=run_id, role="output")


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_the_owner_downloads_the_output_from_the_filesystem(client, make_user, bearer, fs_storage) -> None:
    me, other = make_user(), make_user()
    run_id = post_run(client, bearer(me)).json()["id"]  # processed at once: no REDIS_URL, tasks run eagerly
    output = output_of(run_id)

    mine = client.get(f"/api/runs/{run_id}/download", headers=bearer(me))
    theirs = client.get(f"/api/runs/{run_id}/download", headers=bearer(other))

    assert mine.status_code == 200
    content = b"".join(mine.streaming_content)
    assert content == (fs_storage.root / output.key).read_bytes()
    assert content.startswith(b"\x89PNG")
    assert f'attachment; filename="{output.original_name}"' in mine["Content-Disposition"]
    assert theirs.status_code == 404


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_nothing_is_downloadable_after_expiry_or_before_completion(client, user, bearer, fs_storage, make_run) -> None:
    pending = make_run(user)
    assert client.get(f"/api/runs/{pending.id}/download", headers=bearer(user)).status_code == 404
    run_id = post_run(client, bearer(user)).json()["id"]
    assert client.get(f"/api/runs/{run_id}/download", headers=bearer(user)).status_code == 200

    past = timezone.now() - timedelta(seconds=1)
    History.objects.filter(id=run_id).update(expires_at=past)
    StorageObject.objects.filter(run_id=run_id).update(expires_at=past)

    assert client.get(f"/api/runs/{run_id}/download", headers=bearer(user)).status_code == 404
    assert client.get(f"/api/runs/{uuid.uuid4()}/download", headers=bearer(user)).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_on_s3_the_owner_is_redirected_to_a_short_lived_signed_url(client, user, bearer, s3_storage) -> None:
    run_id = post_run(client, bearer(user)).json()["id"]
    output = output_of(run_id)

    response = client.get(f"/api/runs/{run_id}/download", headers=bearer(user))

    assert response.status_code == 302
    url = response["Location"]
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=" in url
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content.startswith(b"\x89PNG")
    assert len(fetched.content) == output.size


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "content_length,status,code",
    [("999999999999", 413, "file_too_large"), ("", 411, "length_required"), ("lots", 400, "invalid_input")],
)
def test_the_body_size_is_checked_before_the_body_is_read(
    client, user, bearer, fs_storage, content_length: str, status: int, code: str
) -> None:
    response = post_run(client, bearer(user), CONTENT_LENGTH=content_length)

    assert response.status_code == status
    assert response.json()["error"] == code
    nothing_left(user, fs_storage.root)


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_a_failed_runs_output_is_not_downloadable(client, user, bearer, fs_storage) -> None:
    run_id = post_run(client, bearer(user)).json()["id"]
    History.objects.filter(id=run_id).update(status="FAILED")  # as if failed after its output was stored

    assert client.get(f"/api/runs/{run_id}/download", headers=bearer(user)).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_is_a_json_500(client, user, bearer, monkeypatch) -> None:
    import stats.api

    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(stats.api, "dashboard_for_user", broken)

    response = client.get("/api/dashboard", headers=bearer(user))

    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "detail": "Something went wrong on our side; try again later.",
    }


# --- Bad input: a 4xx with a JSON reason, and nothing written -------------------


def nothing_written(user, root: Path) -> None:
    """No run, object, file, ledger row, quota window or statistic: as if the request never came."""
    from billing.models import UsageCounter
    from stats.models import DailyToolUsage, ToolStatistics, ToolUsageEvent, UserDailyUsage, UserStats

    nothing_left(user, root)
    assert not CreditLedgerEntry.objects.filter(user=user).exists()
    assert not UsageCounter.objects.filter(user=user).exists()
    assert not UserStats.objects.filter(user=user).exists()
    assert not UserDailyUsage.objects.filter(user=user).exists()
    assert not ToolStatistics.objects.exists()
    assert not DailyToolUsage.objects.exists()
    assert not ToolUsageEvent.objects.exists()


def raw_multipart(*, tool_id: str, files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body with file names exactly as given (Django's test client would trim their paths)."""
    boundary = "vt-test-boundary-7f3a"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="tool_id"\r\n\r\n{tool_id}\r\n'.encode()]
    for name, content in files:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        parts.append(f"{head}Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "name",
    ["../../etc/a.pdf", "a/b.pdf", "a\\b.pdf", "C:\\Users\\me\\a.pdf", "a&#47;b.pdf", "%2e%2e/a.pdf"],
)
def test_a_file_name_with_a_path_part_is_refused_as_sent(client, user, bearer, fs_storage, name: str) -> None:
    body, content_type = raw_multipart(tool_id="pdf-merge", files=[("ok.pdf", PDF), (name, PDF)])

    response = client.post(
        "/api/runs", data=body, content_type=content_type, headers={**bearer(user), "Idempotency-Key": "k"}
    )

    assert response.status_code == 400, response.content
    assert response.json() == {"error": "file_name_invalid", "detail": "The file name must not contain a path."}
    nothing_written(user, fs_storage.root)


@pytest.mark.django_db(transaction=True)
def test_a_file_name_with_a_path_part_is_refused_for_a_session_user_too(client, user, fs_storage) -> None:
    client.force_login(user)
    body, content_type = raw_multipart(tool_id="pdf-compress", files=[("../../etc/a.pdf", PDF)])

    response = client.post("/api/runs", data=body, content_type=content_type, headers={"Idempotency-Key": "k"})

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "file_name_invalid"
    nothing_written(user, fs_storage.root)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "name,detail",
    [
        ("a\u202egpj.pdf", "The file name contains control characters."),
        ("a" * 252 + ".pdf", "The file name is longer than 255 bytes."),
    ],
)
def test_a_name_django_would_have_trimmed_is_refused_not_trimmed(
    client, user, bearer, fs_storage, name: str, detail: str
) -> None:
    body, content_type = raw_multipart(tool_id="pdf-compress", files=[(name, PDF)])

    response = client.post(
        "/api/runs", data=body, content_type=content_type, headers={**bearer(user), "Idempotency-Key": "k"}
    )

    assert response.status_code == 400, response.content
    assert response.json() == {"error": "file_name_invalid", "detail": detail}
    nothing_written(user, fs_storage.root)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_a_merge_whose_first_name_is_250_bytes_runs_and_every_name_fits(client, user, bearer, fs_storage) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    first = "é" + "a" * 244 + ".pdf"  # 250 bytes, 249 characters: valid, but "(+1 more)" and "-merged" overflow
    body, content_type = raw_multipart(tool_id="pdf-merge", files=[(first, PDF), ("second.pdf", PDF)])

    response = client.post(
        "/api/runs", data=body, content_type=content_type, headers={**bearer(user), "Idempotency-Key": "k"}
    )

    assert response.status_code == 201, response.content
    run = History.objects.get(id=response.json()["id"])  # processed at once: tasks run eagerly
    assert run.status == "COMPLETED", run.error_message
    assert utf8_len(run.input_file_name) <= 255 and run.input_file_name.endswith("….pdf (+1 more)")
    assert run.input_file_name.startswith("éaaa")
    assert run.metadata["inputs"] == [first, "second.pdf"]  # the full names are kept where they fit
    output = output_of(run.id)
    assert utf8_len(output.original_name) <= 255 and output.original_name.endswith("….pdf")
    assert run.output_file_name == output.original_name
    assert client.get(f"/api/runs/{run.id}/download", headers=bearer(user)).status_code == 200


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "tool_id,name,content,extension",
    [("pdf-compress", "b" * 251 + ".pdf", PDF, ".pdf"), ("image-compress", "é" * 125 + ".png", PNG, ".png")],
)
def test_a_long_valid_name_never_fails_the_tool(
    client, user, bearer, fs_storage, tool_id: str, name: str, content: bytes, extension: str
) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    response = post_run(client, bearer(user), tool_id=tool_id, name=name, content=content)

    assert response.status_code == 201, response.content
    run = History.objects.get(id=response.json()["id"])
    assert run.status == "COMPLETED", run.error_message
    assert run.input_file_name == name
    assert utf8_len(run.output_file_name) <= 255 and run.output_file_name.endswith(extension)


@pytest.mark.django_db(transaction=True)
def test_an_unknown_tool_filter_is_400_naming_the_tool(client, user, bearer, make_run) -> None:
    make_run(user, tool_id="pdf-merge")

    response = client.get("/api/history?tool=video-melter", headers=bearer(user))

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_input"
    assert "'video-melter'" in body["detail"] and "pdf-merge" in body["detail"]
    known = client.get("/api/history?tool=pdf-merge", headers=bearer(user))
    assert known.status_code == 200 and len(known.json()["items"]) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "query", ["tool=pdf%00merge", "tool=%00", "cursor=%00", "status=%00", "limit=1%00", "tool%00=x"]
)
def test_a_nul_byte_in_a_query_parameter_is_400_not_500(client, user, bearer, query: str) -> None:
    before = History.objects.count()

    response = client.get(f"/api/history?{query}", headers=bearer(user))

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_input"
    assert "NUL" in body["detail"]
    assert History.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_a_nul_byte_in_the_idempotency_key_is_400_and_writes_nothing(client, user, bearer, fs_storage) -> None:
    response = post_run(client, bearer(user), key="k\x00ey")

    assert response.status_code == 400, response.content
    assert response.json() == {
        "error": "invalid_input",
        "detail": "The request's header Idempotency-Key contains a NUL byte.",
    }
    nothing_written(user, fs_storage.root)


@pytest.fixture
def spool_dir(settings, tmp_path) -> Path:
    """Every uploaded file spooled to disk, in a directory the test can look into."""
    spool = tmp_path / "spool"
    spool.mkdir()
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    return spool


@pytest.mark.django_db(transaction=True)
def test_a_refused_name_leaves_no_spooled_file_behind(client, user, bearer, fs_storage, spool_dir) -> None:
    body, content_type = raw_multipart(tool_id="pdf-merge", files=[("first.pdf", PDF), ("../second.pdf", PDF)])

    response = client.post(
        "/api/runs", data=body, content_type=content_type, headers={**bearer(user), "Idempotency-Key": "k"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "file_name_invalid"
    assert list(spool_dir.iterdir()) == []  # the first file, already spooled, was closed and removed
    nothing_written(user, fs_storage.root)


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_a_long_tail_after_the_last_dot_does_not_break_spooling(client, user, bearer, fs_storage, spool_dir) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    name = "a." + "b" * 250  # 252 bytes: valid, but Django would end its temporary file's name with ".bbb..."
    body, content_type = raw_multipart(tool_id="pdf-compress", files=[(name, PDF)])

    response = client.post(
        "/api/runs", data=body, content_type=content_type, headers={**bearer(user), "Idempotency-Key": "k"}
    )

    assert response.status_code == 201, response.content
    run = History.objects.get(id=response.json()["id"])
    assert (run.input_file_name, run.status) == (name, "COMPLETED")
    assert list(spool_dir.iterdir()) == []


# --- The verified-email rule (REQUIRE_VERIFIED_EMAIL_FOR_RUNS) -------------------

EMAIL_UNVERIFIED = {"error": "email_unverified", "detail": "Verify your email address before starting a run."}


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_an_unverified_user_may_not_start_a_run_and_nothing_is_written(client, make_user, bearer, fs_storage) -> None:
    from files.models import StorageDeletion

    unverified = make_user(verified=False)

    response = post_run(client, bearer(unverified))

    assert response.status_code == 403, response.content
    assert response.json() == EMAIL_UNVERIFIED
    nothing_written(unverified, fs_storage.root)
    assert not CreditBalance.objects.filter(user=unverified).exists()  # not even opened for a charge
    assert not StorageDeletion.objects.exists()  # nothing stored, so nothing owed a delete


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_an_unverified_session_user_gets_the_same_403(client, make_user, fs_storage) -> None:
    unverified = make_user(verified=False)
    client.force_login(unverified)

    response = post_run(client, {})

    assert (response.status_code, response.json()) == (403, EMAIL_UNVERIFIED)
    nothing_written(unverified, fs_storage.root)


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_once_verified_the_same_request_starts_the_run(client, make_user, bearer, fs_storage) -> None:
    from accounts.services import email_mark_verified

    person = make_user(verified=False)
    assert post_run(client, bearer(person)).status_code == 403

    email_mark_verified(user_id=person.id, email=person.email)
    response = post_run(client, bearer(person))

    assert response.status_code == 201, response.content
    assert History.objects.filter(user=person).count() == 1


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_an_address_changed_behind_allauths_back_is_unverified_again(client, make_user, bearer, fs_storage) -> None:
    # Verified as old@; an operator changes users.email in the admin: the new address was never confirmed.
    person = make_user("old@example.com")
    person.email = "new@example.com"
    person.save(update_fields=["email"])

    response = post_run(client, bearer(person))

    assert (response.status_code, response.json()) == (403, EMAIL_UNVERIFIED)


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_with_the_rule_off_an_unverified_user_starts_runs(client, make_user, bearer, fs_storage, settings) -> None:
    settings.REQUIRE_VERIFIED_EMAIL_FOR_RUNS = False
    unverified = make_user(verified=False)

    response = post_run(client, bearer(unverified))

    assert response.status_code == 201, response.content
