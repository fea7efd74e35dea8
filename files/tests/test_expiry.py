"""An expiry pass through each app's services, on both dialects: refunds first, then rows and blobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import CreditBalance, CreditLedgerEntry, UsageCounter
from billing.selectors import RUNS_METRIC, STORAGE_METRIC
from billing.services import credit_balance_open
from files.models import ObjectRole, StorageDeletion, StorageObject
from files.services import storage_object_store
from history.expiry import expire_runs_and_files
from history.models import History, RunStatus
from history.services import run_complete, run_mark_processing, run_start, runs_expire_now

pytestmark = [pytest.mark.django_db, pytest.mark.both_dialects]

PDF = b"%PDF-1.4\n%%EOF\n"


def start(user, key: str):
    return run_start(
        user_id=user.id, tool_id="pdf-merge", input_file_name="a.pdf", input_bytes=len(PDF), idempotency_key=key
    ).run


def counter(user, metric: str) -> int:
    return sum(UsageCounter.objects.filter(user=user, metric=metric).values_list("count", flat=True))


def expire(run) -> None:
    past = timezone.now() - timedelta(seconds=1)
    History.objects.filter(id=run.id).update(expires_at=past)
    StorageObject.objects.filter(run_id=run.id).update(expires_at=past)


def test_a_run_that_expires_unfinished_is_refunded_then_deleted_with_its_files(fs_storage, user) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    run = start(user, "k1")
    storage_object_store(user_id=user.id, content=PDF, name="a.pdf", run_id=run.id)
    run_mark_processing(run_id=run.id)
    expire(run)
    assert (CreditBalance.objects.get(user=user).credits_remaining, counter(user, RUNS_METRIC)) == (8, 1)

    result = expire_runs_and_files()

    assert (result.runs_failed, result.runs_deleted, result.object_rows_deleted) == (1, 1, 1)
    assert not History.objects.filter(id=run.id).exists() and fs_storage.keys() == set()
    assert CreditBalance.objects.get(user=user).credits_remaining == 10
    assert counter(user, RUNS_METRIC) == 0 and counter(user, STORAGE_METRIC) == 0
    assert list(
        CreditLedgerEntry.objects.filter(user=user, operation_type="refund").values_list("credits", flat=True)
    ) == [-2]
    assert not StorageDeletion.objects.exists()  # the blobs went in the pass: nothing is owed

    again = expire_runs_and_files()
    assert (again.runs_failed, again.runs_deleted, again.claimed) == (0, 0, 0)
    assert CreditLedgerEntry.objects.filter(user=user, operation_type="refund").count() == 1


def test_a_pass_takes_expired_runs_and_loose_files_and_keeps_what_lives(fs_storage, user) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    done, living = start(user, "done"), start(user, "living")
    for run in (done, living):
        storage_object_store(user_id=user.id, content=PDF, name="in.pdf", run_id=run.id)
        run_mark_processing(run_id=run.id)
    out = storage_object_store(user_id=user.id, content=PDF, name="out.pdf", run_id=done.id, role=ObjectRole.OUTPUT)
    run_complete(run_id=done.id, output_file_name="out.pdf", bytes_out=len(PDF), file_key=out.key)
    loose = storage_object_store(user_id=user.id, content=PDF, name="loose.pdf")
    StorageObject.objects.filter(id=loose.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    expire(done)
    kept = set(StorageObject.objects.filter(run_id=living.id).values_list("key", flat=True))

    result = expire_runs_and_files(batch_size=1)

    assert (result.runs_failed, result.runs_deleted, result.object_rows_deleted) == (0, 1, 3)
    assert result.objects_deleted == 3 and result.bytes_released == 3 * len(PDF)
    assert list(History.objects.values_list("id", flat=True)) == [living.id]
    assert fs_storage.keys() == kept == set(StorageObject.objects.values_list("key", flat=True))
    assert counter(user, STORAGE_METRIC) == len(PDF)
    assert not StorageDeletion.objects.exists()


def test_operator_expire_now_then_the_command_deletes_and_refunds(fs_storage, user, capsys) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    run = start(user, "k1")
    storage_object_store(user_id=user.id, content=PDF, name="a.pdf", run_id=run.id)

    assert runs_expire_now(run_ids=[run.id]) == 1
    assert History.objects.get(id=run.id).status == RunStatus.FAILED  # refunded at once
    call_command("cleanup_storage")
    assert "1 expired run(s)" in capsys.readouterr().out and History.objects.filter(id=run.id).exists()

    call_command("cleanup_storage", "--yes")

    assert not History.objects.exists() and not StorageObject.objects.exists() and fs_storage.keys() == set()
    assert CreditBalance.objects.get(user=user).credits_remaining == 10
    assert "1 run(s)" in capsys.readouterr().out
