from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from history.models import History

pytestmark = pytest.mark.django_db


def make_runs(make_run, user, count: int, **fields) -> list[History]:
    base = timezone.now()
    return [make_run(user, created_at=base - timedelta(minutes=i), **fields) for i in range(count)]


def test_history_lists_own_runs_newest_first_with_a_cursor(client, make_user, make_run, bearer) -> None:
    me, other = make_user(), make_user()
    mine = make_runs(make_run, me, 5)
    make_runs(make_run, other, 3)

    first = client.get("/api/history?limit=2", headers=bearer(me)).json()
    second = client.get(f"/api/history?limit=2&cursor={first['next_cursor']}", headers=bearer(me)).json()
    third = client.get(f"/api/history?limit=2&cursor={second['next_cursor']}", headers=bearer(me)).json()

    ids = [item["id"] for page in (first, second, third) for item in page["items"]]
    assert ids == [str(run.id) for run in mine]
    assert third["next_cursor"] is None


def test_cursor_pagination_is_stable_for_runs_created_at_the_same_instant(client, user, make_run, bearer) -> None:
    instant = timezone.now()
    runs = [make_run(user, created_at=instant) for _ in range(5)]

    seen, cursor = [], ""
    while True:
        page = client.get(f"/api/history?limit=2{cursor}", headers=bearer(user)).json()
        seen += [item["id"] for item in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"

    assert sorted(seen) == sorted(str(run.id) for run in runs)
    assert len(seen) == len(set(seen)) == 5


def test_history_filters_by_status_and_tool(client, user, make_run, bearer) -> None:
    make_run(user, tool_id="pdf-merge", status="COMPLETED")
    wanted = make_run(user, tool_id="image-compress", status="FAILED")
    make_run(user, tool_id="image-compress", status="COMPLETED")

    page = client.get("/api/history?status=FAILED&tool=image-compress", headers=bearer(user)).json()

    assert [item["id"] for item in page["items"]] == [str(wanted.id)]


@pytest.mark.parametrize(
    "query,field",
    [("status=DONE", "status"), ("limit=0", "limit"), ("limit=1000", "limit"), ("cursor=%%%", "cursor")],
)
def test_bad_history_queries_are_400_naming_the_problem(client, user, bearer, query: str, field: str) -> None:
    response = client.get(f"/api/history?{query}", headers=bearer(user))

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_input"
    assert field in str(body["detail"])


def test_history_detail_of_another_users_run_is_404_not_403(client, make_user, make_run, bearer) -> None:
    me, other = make_user(), make_user()
    theirs = make_run(other)

    response = client.get(f"/api/history/{theirs.id}", headers=bearer(me))
    missing = client.get(f"/api/history/{uuid.uuid4()}", headers=bearer(me))

    assert response.status_code == missing.status_code == 404
    assert response.json() == missing.json()


def test_history_detail_returns_the_run(client, user, make_run, bearer) -> None:
    run = make_run(user, metadata={"pages": 4})

    body = client.get(f"/api/history/{run.id}", headers=bearer(user)).json()

    assert (body["id"], body["metadata"], body["status"]) == (str(run.id), {"pages": 4}, "PENDING")


@pytest.mark.both_dialects
def test_deleting_another_users_run_is_404_and_deletes_nothing(client, make_user, make_run, bearer) -> None:
    me, other = make_user(), make_user()
    theirs = make_run(other)

    response = client.delete(f"/api/history/{theirs.id}", headers=bearer(me))

    assert response.status_code == 404
    assert History.objects.filter(id=theirs.id).exists()


@pytest.mark.both_dialects
def test_deleting_own_run_removes_it(client, user, make_run, bearer) -> None:
    run = make_run(user)

    response = client.delete(f"/api/history/{run.id}", headers=bearer(user))

    assert response.status_code == 204
    assert not History.objects.filter(id=run.id).exists()


@pytest.mark.django_db(transaction=True)  # as in production: the request's transaction is the outermost
def test_history_query_count_does_not_grow_with_data(client, user, make_run, bearer) -> None:
    headers = bearer(user)
    make_runs(make_run, user, 3)
    client.get("/api/history", headers=headers)  # warm-up
    with CaptureQueriesContext(connection) as few:
        client.get("/api/history", headers=headers)
    make_runs(make_run, user, 60)
    with CaptureQueriesContext(connection) as many:
        client.get("/api/history?limit=50", headers=headers)

    # The token's user; BEGIN, the RLS context, the page, COMMIT.
    assert len(many) == len(few) == 5
