"""The global per-tool counters as an insert-only tail rolled up by beat: no run waits on another's counter row.

Before, every run of a tool updated the same ``tool_statistics`` and
``daily_tool_usage`` rows in its own transaction, so runs of one tool queued
on those row locks, each holding them through its commit. Now a run inserts a
``tool_usage_events`` row; ``stats_tool_events_roll`` adds them up, and reads
add what is not rolled yet.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing.services import credit_balance_open
from conftest import run_concurrently
from files.tests.conftest import celery_workers, fs_storage, send_task, wait_until  # noqa: F401
from history.services import run_complete, run_mark_processing, run_start
from stats.models import DailyToolUsage, ToolStatistics, ToolUsageEvent
from stats.operator_selectors import runs_per_day_per_tool
from stats.selectors import tool_statistics_all, tool_statistics_for
from stats.services import stats_tool_events_roll
from versatools.schedule import beat_schedule


def start(user, key: str, tool_id: str = "image-compress", size: int = 100):
    return run_start(user_id=user.id, tool_id=tool_id, input_file_name="in.png", input_bytes=size, idempotency_key=key)


@pytest.mark.django_db(transaction=True)
def test_a_run_of_a_tool_never_waits_for_another_runs_open_transaction_on_the_same_tool(make_user) -> None:
    # A holds its start open, then its completion; meanwhile B, another person, starts and completes a
    # run of the same tool with a lock timeout of 300 ms. A counter row shared by the tool's runs would
    # make B wait for A's commit, which comes only after B is done: B would fail on the lock timeout.
    a, b = make_user(), make_user()
    credit_balance_open(user_id=a.id, credits=100)
    credit_balance_open(user_id=b.id, credits=100)
    a_started, b_started, a_completing, b_completed = (threading.Event() for _ in range(4))
    errors: dict[str, BaseException] = {}

    def holder() -> None:
        try:
            with transaction.atomic():
                run = start(a, "a").run
                a_started.set()
                assert b_started.wait(30)
            run_mark_processing(run_id=run.id)
            with transaction.atomic():
                run_complete(run_id=run.id, output_file_name="o.png", bytes_out=50)
                a_completing.set()
                assert b_completed.wait(30)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors["a"] = exc
        finally:
            a_started.set()
            a_completing.set()
            connection.close()

    def impatient() -> None:
        def lock_timeout() -> None:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")

        try:
            assert a_started.wait(30)
            with transaction.atomic():
                lock_timeout()
                run = start(b, "b").run
            b_started.set()
            assert a_completing.wait(30)
            with transaction.atomic():
                lock_timeout()
                run_mark_processing(run_id=run.id)
                run_complete(run_id=run.id, output_file_name="o.png", bytes_out=70)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors["b"] = exc
        finally:
            b_started.set()
            b_completed.set()
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=impatient)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == {}
    stats = tool_statistics_for(tool_id="image-compress")
    assert stats is not None and (stats["runs"], stats["completed"], stats["bytes_out"]) == (2, 2, 120)


@pytest.mark.django_db
def test_the_reads_add_the_tail_and_the_roll_moves_it_exactly_once() -> None:
    today = timezone.now().date()
    ToolStatistics.objects.create(tool_id="pdf-merge", runs=10, completed=7, failed=2, bytes_in=1000, bytes_out=500)
    DailyToolUsage.objects.create(day=today, tool_id="pdf-merge", runs=4, completed=3)
    ToolUsageEvent.objects.bulk_create(
        [
            ToolUsageEvent(day=today, tool_id="pdf-merge", runs=1, bytes_in=10, last_used_at=timezone.now()),
            ToolUsageEvent(day=today, tool_id="pdf-merge", completed=1, bytes_out=5),
            ToolUsageEvent(day=date(2026, 1, 2), tool_id="image-convert", runs=1, bytes_in=3),
        ]
    )
    expected = {
        "pdf-merge": (11, 8, 2, 1010, 505),
        "image-convert": (1, 0, 0, 3, 0),
    }

    def current() -> dict[str, tuple[int, ...]]:
        return {
            row["tool_id"]: (row["runs"], row["completed"], row["failed"], row["bytes_in"], row["bytes_out"])
            for row in tool_statistics_all()
        }

    assert current() == expected
    assert runs_per_day_per_tool(days=3, today=today).by_tool["pdf-merge"][-1] == 5

    assert stats_tool_events_roll(batch=2) == 3  # two batches
    assert not ToolUsageEvent.objects.exists()
    assert current() == expected
    assert stats_tool_events_roll() == 0
    assert current() == expected
    assert DailyToolUsage.objects.get(day=today, tool_id="pdf-merge").runs == 5
    assert DailyToolUsage.objects.get(day=date(2026, 1, 2), tool_id="image-convert").runs == 1
    assert runs_per_day_per_tool(days=3, today=today).by_tool["pdf-merge"][-1] == 5


@pytest.mark.django_db(transaction=True)
def test_rolls_racing_each_other_and_new_runs_count_every_event_once(make_user) -> None:
    users = [make_user() for _ in range(4)]
    for user in users:
        credit_balance_open(user_id=user.id, credits=1000)

    def work(i: int) -> int:
        if i >= 4:  # two rollers against four writers
            return sum(stats_tool_events_roll(batch=7) for _ in range(30))
        for n in range(25):
            run = start(users[i], f"{i}-{n}", size=n + 1).run
            run_mark_processing(run_id=run.id)
            run_complete(run_id=run.id, output_file_name="o.png", bytes_out=n)
        return 0

    outcomes = run_concurrently(work, 6)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    moved = sum(outcomes) + stats_tool_events_roll()
    assert moved == 4 * 25 * 2  # a start and a completion each
    stats = ToolStatistics.objects.get(tool_id="image-compress")
    assert (stats.runs, stats.completed, stats.bytes_in, stats.bytes_out) == (100, 100, 4 * 325, 4 * 300)
    assert tool_statistics_for(tool_id="image-compress")["runs"] == 100


def test_beat_rolls_the_events_every_few_seconds(settings) -> None:
    settings.STATS_ROLL_SECONDS = 7
    entry = beat_schedule()["stats-roll-tool-events"]
    assert entry["task"] == "stats.tasks.roll_tool_events"
    assert entry["schedule"] == 7 and entry["options"]["expires"] == 7


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_real_worker_runs_the_roll_beat_sends(fs_storage, celery_workers, send_task) -> None:  # noqa: F811
    today = timezone.now().date()
    ToolUsageEvent.objects.bulk_create(
        [ToolUsageEvent(day=today, tool_id="pdf-compress", runs=1, bytes_in=i) for i in range(50)]
    )
    worker = celery_workers(fs_storage)

    send_task("stats.tasks.roll_tool_events", queue=worker.queue)

    wait_until(lambda: not ToolUsageEvent.objects.exists(), timeout=60, message=worker.output())
    stats = ToolStatistics.objects.get(tool_id="pdf-compress")
    assert (stats.runs, stats.bytes_in) == (50, sum(range(50)))
    assert DailyToolUsage.objects.get(day=today, tool_id="pdf-compress").runs == 50
