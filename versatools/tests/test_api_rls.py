"""The JSON API's reads under row level security (versatools.rls.rls_api_reads).

Each test goes through the real request path (middleware, ninja's
authentication, the API-wide decorator, serialization). Where a view is made
to "forget" its filter, the selector it calls is replaced by one that reads
the whole table: what comes back is what PostgreSQL let through.
"""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Plan
from billing.subscriptions import subscription_change
from history.models import History
from stats.models import ToolStatistics
from stats.selectors import dashboard_for_user

pytestmark = pytest.mark.django_db

SET_ROLE = "set_config('role'"


def session_state() -> tuple[int, str, str | None]:
    """(backend pid, current_user, request.jwt.claims) of Django's connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), current_user, current_setting('request.jwt.claims', true)")
        return cursor.fetchone()


def own_role() -> str:
    return session_state()[1]


@pytest.fixture(params=["bearer", "session"])
def signed_in(request: pytest.FixtureRequest, client: Any, bearer: Any) -> Any:
    """Headers for the user's requests, by either way the API accepts: a token, or a session."""

    def sign_in(user: Any) -> dict[str, str]:
        if request.param == "bearer":
            return bearer(user)
        client.force_login(user)
        return {}

    return sign_in


def test_a_history_view_that_forgot_its_filter_still_lists_only_the_callers_runs(
    client, make_user, make_run, signed_in, monkeypatch
) -> None:
    alice, bob = make_user(), make_user()
    alice_runs = {str(make_run(alice).pk), str(make_run(alice).pk)}
    make_run(bob)
    # Unfiltered and left lazy: evaluated by the decorator, inside the block.
    everything = SimpleNamespace(runs=History.objects.all(), next_cursor=None)
    monkeypatch.setattr("history.api.runs_page", lambda **_: everything)

    response = client.get("/api/history", headers=signed_in(alice))

    assert response.status_code == 200
    assert {item["id"] for item in response.json()["items"]} == alice_runs
    assert History.objects.count() == 3  # Django's own role, outside the request, sees all three


def test_a_detail_view_that_forgot_its_filter_answers_404_for_another_users_run(
    client, make_user, make_run, signed_in, monkeypatch
) -> None:
    alice, bob = make_user(), make_user()
    theirs, mine = make_run(bob), make_run(alice)
    monkeypatch.setattr("history.api.run_for_user", lambda *, run_id, **_: History.objects.filter(id=run_id).first())
    headers = signed_in(alice)

    assert client.get(f"/api/history/{theirs.pk}", headers=headers).status_code == 404
    assert client.get(f"/api/history/{mine.pk}", headers=headers).json()["id"] == str(mine.pk)


def test_a_queryset_returned_unevaluated_is_read_inside_the_block(
    client, make_user, make_run, bearer, monkeypatch
) -> None:
    # A dashboard whose newest runs forgot their filter and were handed to the serializer lazily.
    alice, bob = make_user(), make_user()
    mine = make_run(alice)
    make_run(bob)
    real = dashboard_for_user

    def leaky(*, user_id: uuid.UUID) -> dict[str, Any]:
        return {**real(user_id=user_id), "recent_runs": History.objects.order_by("-created_at")}

    monkeypatch.setattr("stats.api.dashboard_for_user", leaky)

    body = client.get("/api/dashboard", headers=bearer(alice)).json()

    assert [run["id"] for run in body["recent_runs"]] == [str(mine.pk)]


@pytest.mark.django_db(transaction=True)  # the request's transaction is the outermost, as in production
@pytest.mark.parametrize(
    "path",
    ["/api/dashboard", "/api/history", "/api/history/{run}", "/api/runs/{run}/download", "/api/stats/tools"],
)
def test_every_read_endpoint_authenticates_first_and_reads_only_inside_the_switched_transaction(
    client, user, make_run, bearer, path: str
) -> None:
    run = make_run(user)
    headers = bearer(user)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(path.format(run=run.pk), headers=headers)

    # The download of a run without output is a 404, answered from inside the block too.
    assert response.status_code in (200, 404)
    statements = [q["sql"] for q in queries.captured_queries]
    # The token's user, as Django's own role (authenticated may not read password hashes) ...
    assert 'FROM "users"' in statements[0]
    # ... then one transaction: the switch first, the selectors' reads, the end (which resets the role).
    assert statements[1] == "BEGIN"
    assert SET_ROLE in statements[2] and "'authenticated'" in statements[2] and str(user.pk) in statements[2]
    assert len(statements) > 4
    assert statements[-1] in ("COMMIT", "ROLLBACK")
    assert not any(SET_ROLE in sql for sql in statements[3:])


@pytest.mark.parametrize("as_user", [False, True])
def test_the_plan_catalog_is_read_as_anon_even_for_a_signed_in_visitor(client, make_user, as_user: bool) -> None:
    Plan.objects.create(key="rls-public", name="Public", credits=1, active=True, sort_order=-1)
    Plan.objects.create(key="rls-retired", name="Retired", credits=1, active=False, sort_order=-1)
    if as_user:
        client.force_login(make_user())

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/plans")

    assert response.status_code == 200
    keys = [plan["key"] for plan in response.json()]
    assert "rls-public" in keys and "rls-retired" not in keys
    switch = next(q["sql"] for q in queries.captured_queries if SET_ROLE in q["sql"])
    assert "'anon'" in switch


def test_the_dashboard_shows_a_retired_plan_to_the_user_still_subscribed_to_it(client, user, bearer) -> None:
    Plan.objects.create(key="rls-legacy", name="Legacy", credits=1, storage_bytes=5000, active=False)
    subscription_change(user_id=user.id, plan_key="rls-legacy", status="active", event_type="upgraded")

    body = client.get("/api/dashboard", headers=bearer(user)).json()

    assert (body["plan"]["key"], body["storage"]["limit_bytes"]) == ("rls-legacy", 5000)


def test_global_tool_statistics_are_readable_by_the_authenticated_role(client, user, bearer) -> None:
    ToolStatistics.objects.create(tool_id="pdf-merge", runs=3)

    body = client.get("/api/stats/tools", headers=bearer(user)).json()

    assert [(row["tool_id"], row["runs"]) for row in body] == [("pdf-merge", 3)]


def test_writes_run_as_djangos_own_role(client, user, make_run, signed_in, monkeypatch) -> None:
    roles: list[str] = []
    run = make_run(user)

    def record_submit(**_: Any) -> SimpleNamespace:
        roles.append(own_role())
        return SimpleNamespace(created=True, run=run)

    def record_delete(**_: Any) -> None:
        roles.append(own_role())

    monkeypatch.setattr("history.api.run_submit", record_submit)
    monkeypatch.setattr("history.api.run_delete", record_delete)
    headers = signed_in(user)
    django_role = own_role()

    upload = SimpleUploadedFile("a.png", b"\x89PNG", content_type="image/png")
    posted = client.post(
        "/api/runs", data={"tool_id": "image-compress", "file": upload}, headers={**headers, "Idempotency-Key": "k"}
    )
    deleted = client.delete(f"/api/history/{run.pk}", headers=headers)

    # A session write needs its CSRF token; the test client does not enforce it.
    assert (posted.status_code, deleted.status_code) == (201, 204)
    assert roles == [django_role, django_role]


@pytest.mark.django_db(transaction=True)  # no test transaction: the request's own is the outermost, as in production
def test_after_a_read_the_pooled_connection_is_back_to_its_own_role_with_no_claims(
    client, make_user, make_run, bearer, monkeypatch
) -> None:
    alice, bob = make_user(), make_user()
    alice_run = make_run(alice)
    make_run(bob)
    pid, django_role, _ = session_state()
    inside: list[tuple[int, str, str | None]] = []

    def every_run(*, user_id: uuid.UUID, run_id: uuid.UUID) -> History | None:
        inside.append(session_state())
        return History.objects.order_by("created_at").last()  # whichever run is newest, if it could see all

    monkeypatch.setattr("history.api.run_for_user", every_run)
    make_run(bob)  # the newest run in the table is bob's

    response = client.get(f"/api/history/{alice_run.pk}", headers=bearer(alice))

    assert response.json()["id"] == str(alice_run.pk)
    assert inside[0][:2] == (pid, "authenticated")
    assert json.loads(inside[0][2])["sub"] == str(alice.pk)
    assert connection.in_atomic_block is False
    assert session_state()[0] == pid  # the same backend, reused
    assert session_state()[1:] in ((django_role, None), (django_role, ""))
    assert History.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_read_that_fails_inside_the_block_leaves_the_connection_as_it_found_it(
    client, user, bearer, monkeypatch
) -> None:
    django_role = own_role()

    def broken(**_: Any) -> None:
        # authenticated may not write runs: the statement fails, the block rolls back.
        History.objects.update(tool_name="x")

    monkeypatch.setattr("history.api.run_for_user", broken)

    response = client.get(f"/api/history/{uuid.uuid4()}", headers=bearer(user))

    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert connection.in_atomic_block is False
    assert session_state()[1:] in ((django_role, None), (django_role, ""))
