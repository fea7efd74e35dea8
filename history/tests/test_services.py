from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.exceptions import InsufficientCredits, QuotaExceeded
from billing.models import AdminSettings, CreditBalance, CreditLedgerEntry, Plan, Subscription, UsageCounter
from billing.services import credit_balance_open
from history.exceptions import IdempotencyKeyReused, IllegalTransition, RunNotFound, ToolDisabled, UnknownTool
from history.models import History, RunStatus
from history.services import run_complete, run_fail, run_mark_processing, run_start, runs_reap_stuck
from stats.models import DailyToolUsage, ToolStatistics, UserDailyUsage, UserStats
from stats.services import stats_tool_events_roll

pytestmark = [pytest.mark.django_db, pytest.mark.both_dialects]


def tool_totals(tool_id: str, *, values: bool = False):
    """The tool's rolled-up counters, after rolling the events still in the tail (stats_tool_events_roll)."""
    stats_tool_events_roll()
    rows = ToolStatistics.objects.filter(tool_id=tool_id)
    return rows.values().get() if values else rows.get()


def start(user, key: str = "k1", tool_id: str = "pdf-merge", name: str = "a.pdf", size: int = 1000):
    return run_start(user_id=user.id, tool_id=tool_id, input_file_name=name, input_bytes=size, idempotency_key=key)


def balance(user) -> int:
    return CreditBalance.objects.get(user=user).credits_remaining


def nothing_written(user) -> bool:
    return not (
        History.objects.filter(user=user).exists()
        or CreditLedgerEntry.objects.filter(user=user).exclude(idempotency_key="opening-grant").exists()
        or UsageCounter.objects.filter(user=user).exists()
        or UserStats.objects.filter(user=user).exists()
    )


def test_start_charges_the_tool_cost_and_creates_a_pending_run(user, settings) -> None:
    credit_balance_open(user_id=user.id, credits=10)

    result = start(user)

    assert result.created
    assert result.run.status == RunStatus.PENDING
    assert result.run.credits_charged == 2  # pdf-merge's default cost
    assert balance(user) == 8
    ledger = list(CreditLedgerEntry.objects.filter(user=user).order_by("id").values_list("operation_type", "credits"))
    assert ledger == [("grant", -10), ("tool_run", 2)]
    assert UsageCounter.objects.get(user=user, metric="runs").count == 1
    assert UserStats.objects.get(user=user).tools_breakdown == {"pdf-merge": 1}
    assert tool_totals("pdf-merge").bytes_in == 1000


def test_replayed_key_returns_the_original_run_and_charges_nothing(user) -> None:
    first = start(user)
    before = balance(user)

    replay = start(user)

    assert not replay.created
    assert replay.run.id == first.run.id
    assert balance(user) == before
    assert History.objects.filter(user=user).count() == 1
    assert UserStats.objects.get(user=user).total_used == 1


def test_same_key_with_different_input_is_a_conflict_that_changes_nothing(user) -> None:
    start(user, size=1000)
    before = balance(user)

    with pytest.raises(IdempotencyKeyReused):
        start(user, size=2000)

    assert balance(user) == before
    assert History.objects.filter(user=user).count() == 1


def test_the_same_key_for_two_users_makes_two_runs(make_user) -> None:
    a, b = make_user(), make_user()

    assert start(a, key="shared").run.id != start(b, key="shared").run.id


def test_unknown_tool_is_refused_and_writes_nothing(user) -> None:
    with pytest.raises(UnknownTool):
        start(user, tool_id="video-melter")

    assert nothing_written(user)


def test_disabled_tool_is_refused_and_writes_nothing(user) -> None:
    AdminSettings.objects.create(disabled_tools=["pdf-merge"])

    with pytest.raises(ToolDisabled):
        start(user)

    assert nothing_written(user)


def test_operator_cost_overrides_the_code_default(user, settings) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    AdminSettings.objects.create(feature_costs={"pdf-merge": 7})

    run = start(user).run

    assert run.credits_charged == 7
    assert balance(user) == 3


def test_insufficient_credits_leaves_nothing_written(user, settings) -> None:
    credit_balance_open(user_id=user.id, credits=1)

    with pytest.raises(InsufficientCredits):
        start(user)  # costs 2

    assert balance(user) == 1
    assert nothing_written(user)


def test_quota_window_refuses_the_run_past_the_plan_limit(user) -> None:
    plan = Plan.objects.create(key="tiny", name="Tiny", credits=0, runs_per_window=2, usage_window="day")
    Subscription.objects.create(user=user, plan=plan)
    start(user, key="a")
    start(user, key="b")
    before = balance(user)

    with pytest.raises(QuotaExceeded):
        start(user, key="c")

    assert balance(user) == before
    assert History.objects.filter(user=user).count() == 2
    assert UsageCounter.objects.get(user=user, metric="runs").count == 2


def test_plan_retention_sets_the_expiry(user) -> None:
    plan = Plan.objects.create(key="short", name="Short", credits=0, retention_hours=3)
    Subscription.objects.create(user=user, plan=plan)

    run = start(user).run

    assert abs((run.expires_at - run.created_at) - timedelta(hours=3)) < timedelta(seconds=1)


def test_full_lifecycle_counts_completion_once(user) -> None:
    run = start(user).run

    run_mark_processing(run_id=run.id)
    run_complete(
        run_id=run.id, output_file_name="merged.pdf", bytes_out=400, file_key="k/out.pdf", metadata={"pages": 5}
    )

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert (run.output_file_name, run.bytes_out, run.metadata) == ("merged.pdf", 400, {"pages": 5})
    assert run.started_at is not None and run.finished_at >= run.started_at
    tool = tool_totals("pdf-merge")
    assert (tool.runs, tool.completed, tool.failed, tool.bytes_out) == (1, 1, 0, 400)
    day = DailyToolUsage.objects.get(tool_id="pdf-merge")
    assert (day.runs, day.completed) == (1, 1)
    assert UserDailyUsage.objects.get(user=user).completed == 1


@pytest.mark.parametrize(
    "moves,illegal",
    [
        ([], "complete"),  # PENDING -> COMPLETED skips PROCESSING
        (["process", "complete"], "process"),  # COMPLETED -> PROCESSING
        (["process", "complete"], "fail"),  # COMPLETED -> FAILED
        (["fail"], "process"),  # FAILED -> PROCESSING
        (["process"], "process"),  # PROCESSING -> PROCESSING
    ],
)
def test_illegal_moves_raise_and_change_nothing(user, moves: list[str], illegal: str) -> None:
    run = start(user).run
    actions = {
        "process": lambda: run_mark_processing(run_id=run.id),
        "complete": lambda: run_complete(run_id=run.id, output_file_name="o.pdf", bytes_out=1),
        "fail": lambda: run_fail(run_id=run.id, error_message="boom"),
    }
    for move in moves:
        actions[move]()
    before = History.objects.values().get(id=run.id)
    tool_before = tool_totals("pdf-merge", values=True)
    balance_before = balance(user)

    with pytest.raises(IllegalTransition):
        actions[illegal]()

    assert History.objects.values().get(id=run.id) == before
    assert tool_totals("pdf-merge", values=True) == tool_before
    assert balance(user) == balance_before


def test_moving_a_missing_run_is_not_found() -> None:
    with pytest.raises(RunNotFound):
        run_mark_processing(run_id=uuid.uuid4())


def test_failure_refunds_exactly_once_as_a_negative_ledger_entry(user, settings) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    run = start(user).run
    run_mark_processing(run_id=run.id)

    run_fail(run_id=run.id, error_message="corrupt PDF")
    with pytest.raises(IllegalTransition):
        run_fail(run_id=run.id, error_message="reported again")

    assert balance(user) == 10
    refunds = list(
        CreditLedgerEntry.objects.filter(user=user, operation_type="refund").values_list("credits", flat=True)
    )
    assert refunds == [-2]
    run.refresh_from_db()
    assert (run.status, run.error_message) == (RunStatus.FAILED, "corrupt PDF")
    assert tool_totals("pdf-merge").failed == 1


def test_reaper_fails_and_refunds_only_runs_past_the_timeout(user, settings) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    stuck, fresh, old_pending = start(user, key="a").run, start(user, key="b").run, start(user, key="c").run
    run_mark_processing(run_id=stuck.id)
    run_mark_processing(run_id=fresh.id)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    History.objects.filter(id=stuck.id).update(started_at=an_hour_ago)
    History.objects.filter(id=old_pending.id).update(created_at=an_hour_ago)

    dry = runs_reap_stuck(timeout=timedelta(minutes=30))
    assert (dry.found, dry.failed) == (2, 0)
    assert History.objects.filter(status=RunStatus.FAILED).count() == 0

    result = runs_reap_stuck(timeout=timedelta(minutes=30), dry_run=False)

    assert (result.found, result.failed) == (2, 2)
    statuses = dict(History.objects.values_list("id", "status"))
    assert statuses == {stuck.id: "FAILED", fresh.id: "PROCESSING", old_pending.id: "FAILED"}
    assert balance(user) == 10 - 2  # only the fresh run stays charged


def test_reap_command_is_a_dry_run_unless_told(user, capsys) -> None:
    run = start(user).run
    run_mark_processing(run_id=run.id)
    History.objects.filter(id=run.id).update(started_at=timezone.now() - timedelta(hours=2))

    call_command("reap_stuck_runs")
    assert History.objects.get(id=run.id).status == RunStatus.PROCESSING
    assert "1 found (dry run" in capsys.readouterr().out

    call_command("reap_stuck_runs", "--yes")
    assert History.objects.get(id=run.id).status == RunStatus.FAILED
    assert "1 found, 1 failed and refunded" in capsys.readouterr().out


def test_deleting_an_unfinished_run_refunds_it_first(user, settings) -> None:
    from history.services import run_delete

    credit_balance_open(user_id=user.id, credits=10)
    run = start(user).run
    run_mark_processing(run_id=run.id)

    run_delete(user_id=user.id, run_id=run.id)

    assert not History.objects.filter(id=run.id).exists()
    assert balance(user) == 10
    assert CreditLedgerEntry.objects.filter(user=user, operation_type="refund").count() == 1
    assert tool_totals("pdf-merge").failed == 1
