"""Races between a delete, the worker, the reaper and a replay, one at a time and deterministic.

The randomized interleaving of all of them together, with a real worker, is
history/tests/test_interleavings.py.
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import timedelta

import psycopg
import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from billing.models import CreditBalance, CreditLedgerEntry, Plan, Subscription, UsageCounter
from billing.selectors import RUNS_METRIC
from billing.services import credit_balance_open
from conftest import run_concurrently
from core.retry import ATTEMPTS, Busy, retry_on_lock_conflict
from files.tests.conftest import test_database_url as database_url
from history import services
from history.exceptions import IdempotencyKeyReused
from history.models import History, RunStatus
from history.services import run_fail, run_mark_processing, run_start, runs_reap_stuck

pytestmark = pytest.mark.django_db(transaction=True)


def start(user, key: str, **fields):
    fields.setdefault("input_sha256", "")
    return run_start(
        user_id=user.id,
        tool_id="image-compress",
        input_file_name=fields.pop("name", "in.png"),
        input_bytes=fields.pop("size", 100),
        idempotency_key=key,
        **fields,
    )


def delete_elsewhere(run_id) -> None:
    """A raw DELETE on a connection of its own, as a dashboard or another process would send it."""
    if connection.vendor == "sqlite":  # the SQLite pass: the test database is a file (conftest.py)
        with contextlib.closing(sqlite3.connect(connection.settings_dict["NAME"])) as conn, conn:
            conn.execute("DELETE FROM history WHERE id = ?", [run_id.hex])
        return
    with psycopg.connect(database_url(), autocommit=True) as conn:
        conn.execute("DELETE FROM history WHERE id = %s", [run_id])


@pytest.mark.both_dialects
def test_a_run_deleted_between_the_reapers_listing_and_its_fail_does_not_stop_the_pass(user, monkeypatch):
    credit_balance_open(user_id=user.id, credits=10)
    runs = [start(user, key=f"stuck-{i}").run for i in range(3)]
    for run in runs:
        run_mark_processing(run_id=run.id)
    History.objects.filter(id__in=[r.id for r in runs]).update(started_at=timezone.now() - timedelta(hours=2))
    real_fail = services.run_fail
    vanishing = runs[0].id

    def fail_after_a_delete(**kwargs):
        if kwargs["run_id"] == vanishing:
            delete_elsewhere(vanishing)
        return real_fail(**kwargs)

    monkeypatch.setattr(services, "run_fail", fail_after_a_delete)
    result = runs_reap_stuck(timeout=timedelta(minutes=30), dry_run=False)

    assert (result.found, result.failed) == (3, 2)
    assert set(History.objects.values_list("status", flat=True)) == {RunStatus.FAILED}
    assert CreditBalance.objects.get(user=user).credits_remaining == 10 - 1


@pytest.mark.both_dialects
def test_a_replay_whose_original_is_deleted_meanwhile_starts_a_new_charged_run(user, monkeypatch):
    credit_balance_open(user_id=user.id, credits=10)
    original = start(user, key="k").run
    real_check = services._is_idempotency_conflict

    def conflict_then_delete(exc):
        # The INSERT met the original; it is deleted before the replay reads it.
        delete_elsewhere(original.id)
        return real_check(exc)

    monkeypatch.setattr(services, "_is_idempotency_conflict", conflict_then_delete)
    replay = start(user, key="k")

    assert replay.created and replay.run.id != original.id
    assert CreditBalance.objects.get(user=user).credits_remaining == 8
    assert CreditLedgerEntry.objects.filter(user=user, operation_type="tool_run").count() == 2


@pytest.mark.both_dialects
def test_the_same_key_with_other_bytes_of_the_same_name_and_size_is_refused(user):
    credit_balance_open(user_id=user.id, credits=10)
    start(user, key="k", input_sha256="a" * 64)

    assert not start(user, key="k", input_sha256="a" * 64).created
    with pytest.raises(IdempotencyKeyReused):
        start(user, key="k", input_sha256="b" * 64)
    assert CreditBalance.objects.get(user=user).credits_remaining == 9


def test_a_failed_run_gives_its_unit_of_the_quota_window_back_under_concurrency(user):
    plan = Plan.objects.create(key="five", name="Five a day", credits=0, runs_per_window=5, usage_window="day")
    Subscription.objects.create(user=user, plan=plan)
    credit_balance_open(user_id=user.id, credits=100)
    first = [start(user, key=f"first-{i}").run for i in range(5)]

    # Three of them fail at the same time as twenty new starts race for the freed units.
    def fail_or_start(i: int):
        if i < 3:
            return run_fail(run_id=first[i].id, error_message="broken input")
        return start(user, key=f"second-{i}")

    outcomes = run_concurrently(fail_or_start, 23)
    unexpected = [o for o in outcomes if isinstance(o, Exception) and type(o).__name__ != "QuotaExceeded"]
    assert unexpected == []
    started = sum(1 for o in outcomes[3:] if not isinstance(o, Exception))
    # Each failure frees one unit; a start either took a freed unit or was refused.
    assert 0 <= started <= 3
    window = UsageCounter.objects.get(user=user, metric=RUNS_METRIC)
    assert window.count == History.objects.filter(user=user).exclude(status=RunStatus.FAILED).count() == 2 + started
    # And once the failures are all in, exactly the freed units can be used.
    for i in range(3 - started):
        start(user, key=f"third-{i}")
    assert UsageCounter.objects.get(user=user, metric=RUNS_METRIC).count == 5
    with pytest.raises(Exception, match="limit"):
        start(user, key="one-too-many")


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_deadlocked_transaction_is_retried_and_a_persistent_one_is_busy_not_a_500():
    calls: list[int] = []

    @retry_on_lock_conflict
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DatabaseError("deadlock detected") from _Deadlock()
        return "done"

    assert flaky() == "done" and len(calls) == 3

    @retry_on_lock_conflict
    def hopeless() -> None:
        raise DatabaseError("deadlock detected") from _Deadlock()

    with pytest.raises(Busy) as busy:
        hopeless()
    assert busy.value.http_status == 503

    @retry_on_lock_conflict
    def other_error() -> None:
        calls.append(1)
        raise DatabaseError("syntax error")

    calls.clear()
    with pytest.raises(DatabaseError, match="syntax"):
        other_error()
    assert len(calls) == 1 < ATTEMPTS


def test_a_real_deadlock_between_two_writers_is_retried_by_the_service(user):
    """Two transactions take the user's balance and a run in opposite orders; the service's side is retried."""
    credit_balance_open(user_id=user.id, credits=10)
    run = start(user, key="dl").run
    run_mark_processing(run_id=run.id)
    with psycopg.connect(database_url()) as rogue:
        # An outside writer: holds the balance, then wants the run.
        rogue.execute("SELECT 1 FROM credit_balances WHERE user_id = %s FOR UPDATE", [user.id])

        def rogue_wants_the_run() -> None:
            import time

            time.sleep(0.5)  # let run_fail take the run and wait for the balance
            try:
                rogue.execute("UPDATE history SET updated_at = now() WHERE id = %s", [run.id])
                rogue.commit()
            except psycopg.errors.DeadlockDetected:
                rogue.rollback()

        import threading

        thread = threading.Thread(target=rogue_wants_the_run)
        thread.start()
        run_fail(run_id=run.id, error_message="stopped")  # takes the run, then the balance
        thread.join(timeout=30)
    connection.close()

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert CreditBalance.objects.get(user=user).credits_remaining == 10
