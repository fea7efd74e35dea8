"""Exactness under real concurrency: threads, each with its own PostgreSQL connection."""

from __future__ import annotations

import random
import threading

import pytest
from django.db.models import Count, Q, Sum

from billing.exceptions import InsufficientCredits, QuotaExceeded
from billing.models import CreditBalance, CreditLedgerEntry, Plan, Subscription
from billing.services import credit_balance_open
from conftest import run_concurrently
from history.exceptions import IllegalTransition
from history.models import History, RunStatus
from history.services import run_complete, run_fail, run_mark_processing, run_start
from stats.models import DailyToolUsage, ToolStatistics, ToolUsageEvent, UserDailyUsage, UserStats
from stats.selectors import tool_statistics_all
from stats.services import stats_tool_events_roll

pytestmark = pytest.mark.django_db(transaction=True)


def start(user, key: str, tool_id: str = "image-compress", size: int = 100):
    return run_start(user_id=user.id, tool_id=tool_id, input_file_name="in.png", input_bytes=size, idempotency_key=key)


def test_fifty_concurrent_one_credit_runs_against_ten_credits_make_exactly_ten(user) -> None:
    credit_balance_open(user_id=user.id, credits=10)

    outcomes = run_concurrently(lambda i: start(user, key=f"run-{i}"), 50)

    assert sum(1 for o in outcomes if isinstance(o, InsufficientCredits)) == 40
    assert [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, InsufficientCredits)] == []
    assert History.objects.filter(user=user).count() == 10
    assert CreditBalance.objects.get(user=user).credits_remaining == 0
    assert CreditLedgerEntry.objects.filter(user=user, operation_type="tool_run").count() == 10
    assert UserStats.objects.get(user=user).total_used == 10


def test_one_key_sent_ten_times_at_once_makes_one_run_and_one_charge(user) -> None:
    credit_balance_open(user_id=user.id, credits=10)

    outcomes = run_concurrently(lambda i: start(user, key="same-key"), 10)

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert len({o.run.id for o in outcomes}) == 1
    assert sum(o.created for o in outcomes) == 1
    assert CreditBalance.objects.get(user=user).credits_remaining == 9
    assert CreditLedgerEntry.objects.filter(user=user, operation_type="tool_run").count() == 1


def test_quota_of_one_run_per_window_admits_exactly_one_of_twenty(user) -> None:
    plan = Plan.objects.create(key="one", name="One a day", credits=0, runs_per_window=1, usage_window="day")
    Subscription.objects.create(user=user, plan=plan)
    credit_balance_open(user_id=user.id, credits=100)

    outcomes = run_concurrently(lambda i: start(user, key=f"q-{i}"), 20)

    assert sum(1 for o in outcomes if isinstance(o, QuotaExceeded)) == 19
    assert History.objects.filter(user=user).count() == 1
    assert CreditBalance.objects.get(user=user).credits_remaining == 99


def test_two_workers_completing_one_run_one_wins_and_it_counts_once(user) -> None:
    run = start(user, key="race").run
    run_mark_processing(run_id=run.id)

    outcomes = run_concurrently(
        lambda i: run_complete(run_id=run.id, output_file_name=f"out-{i}.png", bytes_out=10 + i), 2
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["IllegalTransition", "NoneType"]
    stats_tool_events_roll()
    stats = ToolStatistics.objects.get(tool_id="image-compress")
    assert (stats.completed, stats.failed) == (1, 0)
    run.refresh_from_db()
    assert stats.bytes_out == run.bytes_out


def test_failure_reported_twice_at_once_refunds_once(user) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    run = start(user, key="twice").run
    run_mark_processing(run_id=run.id)

    outcomes = run_concurrently(lambda i: run_fail(run_id=run.id, error_message=f"worker {i} says no"), 2)

    assert sum(isinstance(o, IllegalTransition) for o in outcomes) == 1
    assert CreditBalance.objects.get(user=user).credits_remaining == 10
    assert CreditLedgerEntry.objects.filter(user=user, operation_type="refund").count() == 1


@pytest.mark.slow
def test_statistics_after_a_thousand_mixed_runs_match_history_and_ledger(make_user) -> None:
    users = [make_user() for _ in range(5)]
    for user in users:
        credit_balance_open(user_id=user.id, credits=10_000)
    tools = ["pdf-merge", "pdf-compress", "image-compress", "image-convert"]
    rng = random.Random(42)
    plan = [(rng.choice(users), rng.choice(tools), rng.randrange(1, 5000), rng.random()) for _ in range(1000)]

    # Two rolls of the tool usage events run the whole time beside the eight writers.
    writers_left = [8]
    lock = threading.Lock()

    def work(i: int) -> None:
        if i >= 8:
            while writers_left[0]:
                stats_tool_events_roll(batch=37)
            return
        try:
            run_plan(i)
        finally:
            with lock:
                writers_left[0] -= 1

    def run_plan(i: int) -> None:
        for user, tool_id, size, fate in plan[i::8]:
            run = start(
                user, key=f"mixed-{id(plan)}-{plan.index((user, tool_id, size, fate))}", tool_id=tool_id, size=size
            ).run
            if fate < 0.1:
                continue  # stays PENDING
            if fate < 0.25:
                run_fail(run_id=run.id, error_message="rejected")
                continue
            run_mark_processing(run_id=run.id)
            if fate < 0.4:
                run_fail(run_id=run.id, error_message="crashed")
            else:
                run_complete(run_id=run.id, output_file_name="o", bytes_out=size // 2)

    assert [o for o in run_concurrently(work, 10) if o is not None] == []

    assert History.objects.count() == 1000
    # Exact before the last roll (the reads add the tail) and after it (the tail is gone).
    current = {row["tool_id"]: row for row in tool_statistics_all()}
    stats_tool_events_roll()
    assert not ToolUsageEvent.objects.exists()
    for tool_id in tools:
        runs = History.objects.filter(tool_id=tool_id)
        expected = runs.aggregate(
            n=Count("id"),
            done=Count("id", filter=Q(status=RunStatus.COMPLETED)),
            bad=Count("id", filter=Q(status=RunStatus.FAILED)),
            bin=Sum("bytes_in"),
            bout=Sum("bytes_out"),
        )
        now = current[tool_id]
        assert (now["runs"], now["completed"], now["failed"], now["bytes_in"], now["bytes_out"]) == (
            expected["n"],
            expected["done"],
            expected["bad"],
            expected["bin"],
            expected["bout"],
        )
        stats = ToolStatistics.objects.get(tool_id=tool_id)
        assert (stats.runs, stats.completed, stats.failed, stats.bytes_in, stats.bytes_out) == (
            expected["n"],
            expected["done"],
            expected["bad"],
            expected["bin"],
            expected["bout"],
        )
        daily = DailyToolUsage.objects.filter(tool_id=tool_id).aggregate(r=Sum("runs"), c=Sum("completed"))
        assert (daily["r"], daily["c"]) == (expected["n"], expected["done"])
    for user in users:
        mine = History.objects.filter(user=user)
        stats = UserStats.objects.get(user=user)
        assert stats.total_used == mine.count()
        assert stats.tools_breakdown == dict(mine.values_list("tool_id").annotate(n=Count("id")))
        assert UserDailyUsage.objects.filter(user=user).aggregate(r=Sum("runs"))["r"] == mine.count()
        # Balance = opening grant - net ledger; charges minus refunds = credits of runs that did not fail.
        ledger = CreditLedgerEntry.objects.filter(user=user).aggregate(s=Sum("credits"))["s"]
        assert CreditBalance.objects.get(user=user).credits_remaining == -ledger
        kept = mine.exclude(status=RunStatus.FAILED).aggregate(s=Sum("credits_charged"))["s"] or 0
        assert ledger == kept - 10_000


def test_a_new_users_first_runs_at_once_are_all_charged_from_the_starting_credits(user, settings) -> None:
    # A user created before the catalog existed has no account yet; the
    # default plan arrives later: the first charge opens the balance with its credits.
    Plan.objects.create(key="free", name="Free", credits=10)

    outcomes = run_concurrently(lambda i: start(user, key=f"first-{i}"), 6)

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert CreditBalance.objects.get(user=user).credits_remaining == 4
    assert CreditLedgerEntry.objects.filter(user=user, operation_type="tool_run").count() == 6
