"""cleanup_storage and reconcile_storage: dry runs, summaries, repairs."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.models import UsageCounter
from billing.selectors import STORAGE_METRIC
from files import storage
from files.models import StorageDeletion, StorageObject
from files.reconcile import storage_reconcile
from files.services import storage_object_store
from history.models import History

PDF = b"%PDF-1.4\n%%EOF\n"


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.django_db
def test_cleanup_storage_without_yes_changes_nothing(fs_storage, user, seed_runs):
    seed_runs(fs_storage, [user], 5)

    output = run_command("cleanup_storage")

    assert "Would delete 5 expired object(s), 5 expired run(s), 0 owed delete(s)" in output
    assert "pass --yes" in output
    assert StorageObject.objects.count() == 5 and len(fs_storage.keys()) == 5


@pytest.mark.django_db
def test_cleanup_storage_yes_deletes_and_ends_with_a_one_line_summary(fs_storage, user, seed_runs):
    seed_runs(fs_storage, [user], 5)

    output = run_command("cleanup_storage", "--yes", "--batch-size", "2")

    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Cleanup in ")
    assert "5 object(s) deleted (0 already gone), 5 object row(s), 5 run(s)" in lines[0]
    assert fs_storage.keys() == set() and History.objects.count() == 0


@pytest.mark.django_db
def test_cleanup_storage_limit_and_progress_on_a_terminal(fs_storage, user, seed_runs):
    seed_runs(fs_storage, [user], 10)
    out = FakeTTY()

    call_command("cleanup_storage", "--yes", "--batch-size", "2", "--limit", "6", stdout=out)

    output = out.getvalue()
    assert output.count("\r") == 3  # one progress update per batch, on one line
    assert "6 row(s) claimed" in output
    assert StorageObject.objects.count() == 4


@pytest.mark.django_db
def test_cleanup_storage_rejects_a_zero_batch_size(fs_storage):
    with pytest.raises(CommandError, match="--batch-size: must be at least 1"):
        call_command("cleanup_storage", "--yes", "--batch-size", "0")


@pytest.mark.django_db
def test_cleanup_storage_fails_loudly_when_storage_is_down(s3_storage, user, seed_runs):
    seed_runs(s3_storage, [user], 3)
    s3_storage.server.stop()

    with pytest.raises(CommandError, match="stay for the next run"):
        run_command("cleanup_storage", "--yes")
    assert StorageObject.objects.count() == 3


def age(storage_env, key: str, hours: float) -> None:
    """Make a filesystem object look ``hours`` old (S3 cannot backdate; tests use the grace)."""
    path = storage_env.root / key
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


@pytest.mark.django_db
def test_reconcile_reports_without_yes_and_repairs_with_it(any_storage, user):
    tracked = storage_object_store(user_id=user.id, content=PDF, name="a.pdf")
    lost = storage_object_store(user_id=user.id, content=PDF, name="b.pdf")
    storage.default_backend().delete(lost.key)  # a row whose object is missing
    orphan = f"{user.id}/runs/2020/01/00000000-0000-0000-0000-000000000000.pdf"
    any_storage.put(orphan, PDF)  # an object nobody tracks
    StorageObject.objects.update(created_at=timezone.now() - timedelta(hours=2))

    report = run_command("reconcile_storage", "--grace-hours", "0")

    assert "3 object(s) listed" not in report  # the lost one is not in storage
    assert "2 object(s) listed: 1 without a row (0 within the grace period, 0 deleted)" in report
    assert "2 row(s) checked: 1 without an object (0 removed)" in report
    assert "pass --yes" in report
    assert any_storage.keys() == {tracked.key, orphan} and StorageObject.objects.count() == 2

    repaired = run_command("reconcile_storage", "--yes", "--grace-hours", "0")

    assert "1 without a row (0 within the grace period, 1 deleted)" in repaired
    assert "1 without an object (1 removed)" in repaired
    assert any_storage.keys() == {tracked.key}
    assert list(StorageObject.objects.values_list("key", flat=True)) == [tracked.key]
    counter = UsageCounter.objects.get(user=user, metric=STORAGE_METRIC)
    assert counter.count == len(PDF)  # the forgotten row gave its bytes back


@pytest.mark.django_db
def test_reconcile_leaves_young_orphans_and_young_rows_alone(fs_storage, user):
    young_orphan = f"{user.id}/runs/2030/01/11111111-1111-1111-1111-111111111111.pdf"
    old_orphan = f"{user.id}/runs/2020/01/22222222-2222-2222-2222-222222222222.pdf"
    fs_storage.put(young_orphan, PDF)
    fs_storage.put(old_orphan, PDF)
    age(fs_storage, old_orphan, hours=30)
    in_flight = storage_object_store(user_id=user.id, content=PDF, name="a.pdf")
    storage.default_backend().delete(in_flight.key)  # like an upload whose write has not landed yet

    result = storage_reconcile(repair=True, grace=timedelta(hours=24))

    assert (result.orphans, result.orphans_recent, result.orphans_deleted) == (2, 1, 1)
    assert result.rows_checked == 0  # the row is younger than the grace period
    assert fs_storage.keys() == {young_orphan}
    assert StorageObject.objects.filter(id=in_flight.id).exists()


@pytest.mark.django_db
def test_reconcile_counts_owed_deletes_as_tracked(fs_storage, user):
    key = f"{user.id}/runs/2020/01/33333333-3333-3333-3333-333333333333.pdf"
    fs_storage.put(key, PDF)
    age(fs_storage, key, hours=48)
    StorageDeletion.objects.create(provider="filesystem", bucket="", key=key)

    result = storage_reconcile(repair=True, grace=timedelta(hours=24))

    assert result.orphans == 0 and fs_storage.keys() == {key}


@pytest.mark.django_db
def test_reconcile_lists_only_under_the_key_prefix(s3_storage, user, settings):
    settings.STORAGE_KEY_PREFIX = "app"
    s3_storage.put("someone-else/file.bin", b"not ours")
    s3_storage.put(f"app/{user.id}/runs/2020/01/44444444-4444-4444-4444-444444444444.pdf", PDF)

    result = storage_reconcile(repair=True, grace=timedelta(0))

    assert (result.objects_listed, result.orphans_deleted) == (1, 1)
    assert s3_storage.keys() == {"someone-else/file.bin"}


@pytest.mark.django_db
@pytest.mark.slow
def test_reconcile_on_s3_checks_rows_with_about_one_listing_per_1000_keys(s3_storage, make_user, seed_runs):
    seeded = seed_runs(s3_storage, [make_user(), make_user()], 2500, expired=False)
    gone = seeded.keys[::100]
    for key in gone:
        storage.default_backend().delete(key)
    StorageObject.objects.update(created_at=timezone.now() - timedelta(hours=2))
    s3_storage.server.log.clear()

    result = storage_reconcile(repair=False, grace=timedelta(hours=1))

    assert result.rows_checked == 2500 and result.rows_missing_object == len(gone)
    # 3 pages to list everything for orphans, about 3 more for the rows' key ranges; no HEAD per row.
    assert s3_storage.server.log.requests["list"] <= 8
    assert "head" not in s3_storage.server.log.requests
