"""GET /api/usage and GET /api/ledger: the figures equal sums straight from history and the ledger."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import CreditLedgerEntry
from billing.services import credit_balance_open, credits_adjust
from history.models import History
from history.services import run_complete, run_fail, run_mark_processing, run_start
from stats.models import UserDailyUsage

pytestmark = pytest.mark.django_db
TOOLS = ["image-compress", "pdf-merge", "pdf-compress"]


def seed(user, runs: int, *, seed: int = 7) -> None:
    """Runs through the real services (charged, rolled up), some failed and refunded, and grants."""
    rng = random.Random(seed)
    credit_balance_open(user_id=user.id, credits=10 * runs)
    for number in range(runs):
        tool = rng.choice(TOOLS)
        run = run_start(
            user_id=user.id, tool_id=tool, input_file_name="a", input_bytes=10, idempotency_key=f"{seed}-{number}"
        ).run
        run_mark_processing(run_id=run.id)
        if rng.random() < 0.25:
            run_fail(run_id=run.id, error_message="no")
        else:
            run_complete(run_id=run.id, output_file_name="b", bytes_out=5)
    credits_adjust(user_id=user.id, delta=7, reason="goodwill", idempotency_key=f"grant-{seed}")


def spread_over_days(user, days: int) -> None:
    """Move the runs, their rollups and ledger rows back over ``days`` days (as if they happened then)."""
    now = timezone.now()
    for offset, run in enumerate(History.objects.filter(user=user).order_by("created_at")):
        when = now - timedelta(days=offset % days)
        History.objects.filter(id=run.id).update(created_at=when)
        CreditLedgerEntry.objects.filter(run_id=run.id).update(created_at=when)
    # The rollup as the services would have written it on those days.
    UserDailyUsage.objects.filter(user=user).delete()
    rolled: Counter[tuple] = Counter()
    for run in History.objects.filter(user=user):
        day = run.created_at.astimezone(UTC).date()
        rolled[(day, run.tool_id, "runs")] += 1
        rolled[(day, run.tool_id, run.status)] += 1
    for day, tool in {(day, tool) for day, tool, _ in rolled}:
        UserDailyUsage.objects.create(
            user=user,
            day=day,
            tool_id=tool,
            runs=rolled[(day, tool, "runs")],
            completed=rolled[(day, tool, "COMPLETED")],
            failed=rolled[(day, tool, "FAILED")],
        )


@pytest.mark.both_dialects
def test_usage_equals_what_history_and_the_ledger_say(client, make_user, bearer) -> None:
    me, other = make_user(), make_user()
    seed(me, 40)
    seed(other, 5, seed=8)
    spread_over_days(me, days=10)

    body = client.get("/api/usage?days=7", headers=bearer(me)).json()

    since = timezone.now().astimezone(UTC).date() - timedelta(days=6)
    runs = History.objects.filter(user=me, created_at__date__gte=since)
    assert body["since"] == since.isoformat()
    assert body["totals"]["runs"] == runs.count()
    per_tool_day = Counter((row["day"], row["tool_id"]) for row in body["runs"] for _ in range(row["runs"]))
    assert per_tool_day == Counter((r.created_at.astimezone(UTC).date().isoformat(), r.tool_id) for r in runs)
    assert {row["tool_name"] for row in body["runs"]} <= {"Image Compressor", "PDF Merger", "PDF Compressor"}
    ledger = CreditLedgerEntry.objects.filter(user=me, created_at__date__gte=since)
    assert body["totals"]["credits_spent"] == ledger.filter(operation_type="tool_run").aggregate(n=Sum("credits"))["n"]
    assert body["totals"]["credits_refunded"] == -(
        ledger.filter(operation_type="refund").aggregate(n=Sum("credits"))["n"] or 0
    )
    assert (
        body["totals"]["credits_granted"]
        == -(ledger.filter(operation_type__in=["grant", "plan_credits", "correction"]).aggregate(n=Sum("credits"))["n"])
    )
    assert sum(row["entries"] for row in body["credits"]) == ledger.count()


@pytest.mark.parametrize("days", [0, 367, "x"])
def test_usage_refuses_a_window_it_cannot_serve(client, user, bearer, days) -> None:
    response = client.get(f"/api/usage?days={days}", headers=bearer(user))

    assert response.status_code == 400 and response.json()["error"] == "invalid_input"


def test_usage_and_the_ledger_cost_the_same_queries_for_few_rows_or_many(client, make_user, bearer) -> None:
    small, large = make_user(), make_user()
    seed(small, 3)
    seed(large, 120, seed=9)
    counts = {}
    for person in (small, large):
        for path in ("/api/usage?days=30", "/api/ledger?limit=20"):
            with CaptureQueriesContext(connection) as captured:
                assert client.get(path, headers=bearer(person)).status_code == 200
            counts[(person.id == large.id, path)] = len(captured.captured_queries)

    assert counts[(False, "/api/usage?days=30")] == counts[(True, "/api/usage?days=30")]
    assert counts[(False, "/api/ledger?limit=20")] == counts[(True, "/api/ledger?limit=20")]


@pytest.mark.both_dialects
def test_the_ledger_pages_newest_first_without_gaps_or_repeats(client, make_user, bearer) -> None:
    me, other = make_user(), make_user()
    seed(me, 25)
    seed(other, 3, seed=3)
    seen, cursor = [], ""
    while True:
        page = client.get(f"/api/ledger?limit=7{cursor}", headers=bearer(me)).json()
        seen += page["items"]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"

    expected = list(
        CreditLedgerEntry.objects.filter(user=me).order_by("-created_at", "-id").values_list("id", flat=True)
    )
    assert [item["id"] for item in seen] == expected
    assert {item["operation_type"] for item in seen} >= {"tool_run", "grant"}
    bad = client.get("/api/ledger?cursor=not-a-cursor", headers=bearer(me))
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_input"
