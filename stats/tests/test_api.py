from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Plan
from billing.services import credit_balance_open
from billing.subscriptions import subscription_change
from history.services import run_complete, run_mark_processing, run_start

pytestmark = pytest.mark.django_db


def lifecycle(user, key: str, tool_id: str = "image-compress") -> None:
    run = run_start(user_id=user.id, tool_id=tool_id, input_file_name="a.png", input_bytes=100, idempotency_key=key).run
    run_mark_processing(run_id=run.id)
    run_complete(run_id=run.id, output_file_name="b.png", bytes_out=40, metadata={"compressionRatio": 0.4})


@pytest.mark.both_dialects
def test_dashboard_shows_totals_credits_plan_runs_and_series(client, make_user, bearer) -> None:
    me, other = make_user(), make_user()
    Plan.objects.create(key="pro", name="Pro", credits=100, storage_bytes=5000, retention_hours=48)
    credit_balance_open(user_id=me.id, credits=50)
    subscription_change(user_id=me.id, plan_key="pro", status="active", event_type="upgraded")
    for i in range(3):
        lifecycle(me, f"k{i}")
    lifecycle(me, "pdf", tool_id="pdf-merge")
    lifecycle(other, "x")

    body = client.get("/api/dashboard", headers=bearer(me)).json()

    assert body["totals"]["total_used"] == 4
    assert body["totals"]["by_tool"] == {"image-compress": 3, "pdf-merge": 1}
    assert body["credits_remaining"] == 50 - 3 - 2
    assert (body["plan"]["key"], body["plan"]["retention_hours"]) == ("pro", 48)
    assert body["subscription"]["status"] == "active"
    assert body["storage"] == {"used_bytes": 0, "limit_bytes": 5000}
    assert len(body["recent_runs"]) == 4
    assert body["recent_runs"][0]["tool_id"] == "pdf-merge"  # newest first
    assert len(body["daily"]["days"]) == 30
    assert body["daily"]["days"][-1] == timezone.now().date().isoformat()
    assert body["daily"]["by_tool"]["image-compress"][-1] == 3
    assert sum(body["daily"]["by_tool"]["image-compress"]) == 3


@pytest.mark.both_dialects
def test_a_new_user_gets_an_empty_dashboard_on_the_free_plan(client, user, bearer) -> None:
    body = client.get("/api/dashboard", headers=bearer(user)).json()

    assert body["totals"] == {"total_used": 0, "by_tool": {}, "last_used_at": None}
    assert body["recent_runs"] == []
    assert body["subscription"] is None
    assert body["plan"]["key"] == "free"


@pytest.mark.django_db(transaction=True)
def test_dashboard_query_count_does_not_grow_with_data(client, user, bearer, make_run) -> None:
    headers = bearer(user)
    lifecycle(user, "first")
    client.get("/api/dashboard", headers=headers)
    with CaptureQueriesContext(connection) as few:
        client.get("/api/dashboard", headers=headers)
    for i in range(40):
        make_run(user, created_at=timezone.now() - timedelta(days=i % 29))
        lifecycle(user, f"more-{i}", tool_id=["pdf-merge", "image-convert"][i % 2])
    with CaptureQueriesContext(connection) as many:
        client.get("/api/dashboard", headers=headers)

    statements = [q["sql"] for q in many.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    # The token's user, the RLS context, user+stats+balance+subscription+storage,
    # the free plan (no subscription), newest runs, 30-day series.
    assert len(many) == len(few)
    assert len(statements) == 6


@pytest.mark.both_dialects
def test_tool_statistics_are_global_counts(client, make_user, bearer) -> None:
    a, b = make_user(), make_user()
    lifecycle(a, "1")
    lifecycle(b, "2")

    body = client.get("/api/stats/tools", headers=bearer(a)).json()

    assert body == [
        {
            "tool_id": "image-compress",
            "runs": 2,
            "completed": 2,
            "failed": 0,
            "bytes_in": 200,
            "bytes_out": 80,
            "last_used_at": body[0]["last_used_at"],
        }
    ]
