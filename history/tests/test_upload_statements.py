"""What one POST /api/runs of one file costs in SQL: at most 10 statements in two transactions (direct: 4, then 10).

Counted through the whole request (middleware, auth, views, services) with a
Supabase bearer token, the API's main client. The run's processing is queued,
not counted. A session instead of a token adds Django's session lookup. The
verified-email check (REQUIRE_VERIFIED_EMAIL_FOR_RUNS, on by default) costs
nothing more: the middleware reads it with the plan limits, in one statement.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.services import credit_balance_open
from files.models import StorageObject
from files.tests.conftest import fs_storage, s3_server, s3_storage  # noqa: F401
from history import tasks
from history.models import History
from tools.tests.test_tools import png_bytes

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


@pytest.mark.django_db(transaction=True)
def test_a_one_file_upload_costs_at_most_ten_statements_in_two_transactions(
    client,
    user,
    bearer,
    fs_storage,  # noqa: F811
    monkeypatch,
):
    credit_balance_open(user_id=user.id, credits=10)
    queued: list[str] = []
    monkeypatch.setattr(tasks.process_run, "delay", queued.append)
    headers = {**bearer(user), "Idempotency-Key": "count-me"}
    data = {"tool_id": "image-compress", "file": SimpleUploadedFile("a.png", png_bytes(), content_type="image/png")}

    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/runs", data=data, headers=headers)

    assert response.status_code == 201, response.content
    sql = [query["sql"].strip() for query in captured.captured_queries]
    statements = [s for s in sql if not s.upper().startswith(TRANSACTION_CONTROL)]
    listing = "\n".join(s[:120].replace("\n", " ") for s in statements)
    assert len(statements) <= 10, listing
    assert sum(1 for s in sql if s.upper() == "BEGIN") == 2, "\n".join(sql)
    # And it did the whole job: the run, its input attached, the task queued.
    run = History.objects.get(user=user)
    assert StorageObject.objects.get(user=user).run_id == run.id
    assert queued == [str(run.id)]


@pytest.mark.django_db(transaction=True)
def test_a_direct_upload_costs_a_reservation_and_a_start_of_few_statements(
    client,
    user,
    bearer,
    s3_storage,  # noqa: F811
    monkeypatch,
):
    """POST /api/uploads, then POST /api/runs with the upload id: 4 statements, then 10, one transaction each.

    The reservation: the caller, their plan and verification, the storage
    quota, the row. The start: the caller, plan and verification, the
    uploads, the key's replay check, then the start's own transaction (the
    upload attached by one UPDATE, only while still reserved).
    """
    import json

    import requests

    credit_balance_open(user_id=user.id, credits=10)
    queued: list[str] = []
    monkeypatch.setattr(tasks.process_run, "delay", queued.append)
    body = png_bytes()
    reservation = {"tool_id": "image-compress", "file_name": "a.png", "content_type": "image/png", "size": len(body)}

    with CaptureQueriesContext(connection) as reserving:
        reserved = client.post(
            "/api/uploads", data=json.dumps(reservation), content_type="application/json", headers=bearer(user)
        )
    assert reserved.status_code == 201, reserved.content
    target = reserved.json()["target"]
    assert requests.post(target["url"], data=target["fields"], files={"file": ("a", body)}, timeout=10).ok
    with CaptureQueriesContext(connection) as starting:
        started = client.post(
            "/api/runs",
            data={"tool_id": "image-compress", "upload_id": reserved.json()["upload_id"]},
            headers={**bearer(user), "Idempotency-Key": "direct"},
        )

    assert started.status_code == 201, started.content
    for captured, most, transactions in ((reserving, 4, 1), (starting, 10, 1)):
        sql = [query["sql"].strip() for query in captured.captured_queries]
        statements = [s for s in sql if not s.upper().startswith(TRANSACTION_CONTROL)]
        listing = "\n".join(s[:120].replace("\n", " ") for s in statements)
        assert len(statements) <= most, listing
        assert sum(1 for s in sql if s.upper() == "BEGIN") == transactions, "\n".join(sql)
    run = History.objects.get(user=user)
    assert StorageObject.objects.get(user=user).run_id == run.id
    assert queued == [str(run.id)]
