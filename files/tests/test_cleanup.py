"""Expired-storage cleanup: claims, batch deletes, storage faults, parallel cleaners."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from billing.models import UsageCounter
from billing.selectors import STORAGE_METRIC
from files.models import StorageDeletion, StorageObject
from files.services import storage_object_store
from files.tests.conftest import manage, subprocess_env
from history.expiry import expire_runs_and_files
from history.models import History

PDF = b"%PDF-1.4\n%%EOF\n"


def live_keys() -> set[str]:
    return set(StorageObject.objects.values_list("key", flat=True))


@pytest.mark.django_db
def test_cleanup_deletes_expired_runs_with_their_objects_and_keeps_live_ones(any_storage, make_user, seed_runs):
    users = [make_user(), make_user()]
    expired = seed_runs(any_storage, users, 30)
    live = seed_runs(any_storage, users, 10, expired=False)

    result = expire_runs_and_files(batch_size=7)

    assert any_storage.keys() == set(live.keys) == live_keys()
    assert set(History.objects.values_list("id", flat=True)) == set(live.run_ids)
    assert (result.objects_deleted, result.object_rows_deleted, result.runs_deleted) == (30, 30, 30)
    assert result.storage_failures == 0 and result.failed_keys == 0
    assert not History.objects.filter(id__in=expired.run_ids).exists()


@pytest.mark.django_db
def test_s3_deletes_in_requests_of_1000_keys(s3_storage, user, seed_runs):
    seed_runs(s3_storage, [user], 2500)

    result = expire_runs_and_files(batch_size=2500)

    log = s3_storage.server.log
    assert log.requests["delete_objects"] == 3 == result.storage_requests
    assert len(log.deleted) == 2500 and max(log.deleted.values()) == 1
    assert s3_storage.keys() == set() and StorageObject.objects.count() == 0


@pytest.mark.django_db
def test_object_already_gone_counts_as_deleted(any_storage, user, seed_runs):
    seeded = seed_runs(any_storage, [user], 5)
    from files import storage

    storage.default_backend().delete(seeded.keys[0])
    storage.default_backend().delete(seeded.keys[1])

    result = expire_runs_and_files()

    assert result.objects_deleted == 5 and result.runs_deleted == 5
    assert result.objects_missing == (2 if any_storage.kind == "filesystem" else 0)
    assert StorageObject.objects.count() == 0 and History.objects.count() == 0


@pytest.mark.django_db
def test_key_storage_refuses_keeps_its_row_and_its_run(fs_storage, user, seed_runs):
    seeded = seed_runs(fs_storage, [user], 4)
    stuck = fs_storage.root / seeded.keys[2]
    stuck.unlink()
    stuck.mkdir()  # os.remove() on a directory fails: the storage "refuses"

    result = expire_runs_and_files(batch_size=2)

    # Tried once as an expired object; its run waits for it.
    assert result.failed_keys == 1 and result.objects_deleted == 3
    assert live_keys() == {seeded.keys[2]}
    assert list(History.objects.values_list("id", flat=True)) == [seeded.run_ids[2]]
    # The next pass tries again and does not spin on it: one claim of the object.
    again = expire_runs_and_files(batch_size=2)
    assert again.failed_keys == 1 and again.claimed == 1


@pytest.mark.django_db
def test_missing_filesystem_root_deletes_no_rows(fs_storage, user, seed_runs):
    seed_runs(fs_storage, [user], 3)
    fs_storage.root.rename(fs_storage.root.with_name("unmounted"))

    result = expire_runs_and_files()

    assert result.storage_failures == 1 and result.transient
    assert StorageObject.objects.count() == 3 and History.objects.count() == 3


@pytest.mark.django_db
def test_expired_object_of_a_live_run_goes_and_the_run_stays(fs_storage, user, make_run):
    run = make_run(user, status="COMPLETED")
    obj = storage_object_store(user_id=user.id, content=PDF, name="a.pdf", run_id=run.id)
    StorageObject.objects.filter(id=obj.id).update(expires_at=timezone.now() - timedelta(minutes=1))

    result = expire_runs_and_files()

    assert result.object_rows_deleted == 1 and result.runs_deleted == 0
    assert History.objects.filter(id=run.id).exists() and fs_storage.keys() == set()


@pytest.mark.django_db
def test_cleanup_gives_storage_bytes_back(any_storage, make_user):
    users = [make_user(), make_user()]
    for user in users:
        storage_object_store(user_id=user.id, content=PDF, name="a.pdf")
        storage_object_store(user_id=user.id, content=PDF, name="b.pdf")
    kept = storage_object_store(user_id=users[0].id, content=PDF, name="c.pdf")
    StorageObject.objects.exclude(id=kept.id).update(expires_at=timezone.now() - timedelta(seconds=1))

    result = expire_runs_and_files()

    assert result.bytes_released == 4 * len(PDF)
    counts = dict(UsageCounter.objects.filter(metric=STORAGE_METRIC).values_list("user_id", "count"))
    assert counts == {users[0].id: len(PDF), users[1].id: 0}


@pytest.mark.django_db
def test_limit_caps_the_rows_one_pass_claims(fs_storage, user, seed_runs):
    seed_runs(fs_storage, [user], 10)

    result = expire_runs_and_files(batch_size=3, limit=4)

    assert result.claimed == 4 and result.objects_deleted == 4
    assert StorageObject.objects.count() == 6


@pytest.mark.django_db(transaction=True)
def test_run_waits_for_an_object_another_transaction_is_deleting_then_goes(fs_storage, user, make_run):
    run = make_run(user, status="COMPLETED")
    held = storage_object_store(user_id=user.id, content=PDF, name="a.pdf", run_id=run.id)
    other = storage_object_store(user_id=user.id, content=PDF, name="b.pdf", run_id=run.id)
    History.objects.filter(id=run.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    locked = threading.Event()

    def user_deletes_one_file() -> None:
        try:
            with transaction.atomic():
                StorageObject.objects.get(id=held.id).delete()  # its blob is owed, deleted after commit
                locked.set()
                time.sleep(0.5)
        finally:
            connections.close_all()

    deleter = threading.Thread(target=user_deletes_one_file)
    deleter.start()
    assert locked.wait(10)
    result = expire_runs_and_files()
    deleter.join()

    # Cleanup waited for the user's delete, then took the run and the other
    # file. The delete owed for the user's file is finished by whichever comes
    # first, the task queued at its commit or this pass's owed-delete phase.
    assert (result.runs_deleted, result.object_rows_deleted) == (1, 1)
    assert result.objects_deleted - result.deletions_completed == 1
    assert fs_storage.keys() == set() and not History.objects.exists()
    assert not StorageObject.objects.exists() and not StorageDeletion.objects.exists()
    assert other.key != held.key


@pytest.mark.django_db
def test_refused_key_of_a_run_keeps_the_run_and_that_row_only(fs_storage, user, make_run):
    run = make_run(user, status="COMPLETED")
    stuck = storage_object_store(user_id=user.id, content=PDF, name="a.pdf", run_id=run.id)
    gone = storage_object_store(user_id=user.id, content=PDF, name="b.pdf", run_id=run.id)
    History.objects.filter(id=run.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    StorageObject.objects.filter(id=stuck.id).update(expires_at=timezone.now() + timedelta(hours=1))
    path = fs_storage.root / stuck.key
    path.unlink()
    path.mkdir()  # storage "refuses" to delete this key

    result = expire_runs_and_files()

    assert result.failed_keys == 1 and result.runs_deleted == 0
    assert live_keys() == {stuck.key} and gone.key not in set(fs_storage.keys())
    assert History.objects.filter(id=run.id).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("when", ["before_processing", "after_processing"])
@pytest.mark.slow
def test_s3_server_stopped_mid_batch_then_restarted(s3_storage, make_user, seed_runs, when):
    """The server dies during the second DeleteObjects request of a pass.

    before_processing: the request never reaches the bucket. after_processing:
    the bucket deleted the keys but the answer never came back, so cleanup
    cannot know; those rows stay and the next pass deletes keys already gone.
    """
    users = [make_user(), make_user()]
    expired = seed_runs(s3_storage, users, 2500)
    live = seed_runs(s3_storage, users, 20, expired=False)
    server = s3_storage.server
    requests = []

    def die_on_second(keys: list[str]) -> bool:
        requests.append(keys)
        if len(requests) == 2:
            server.stop_soon()
            return True
        return False

    setattr(server.hooks, when.replace("_processing", "_delete"), die_on_second)

    first = expire_runs_and_files(batch_size=1000)

    server.hooks.before_delete = server.hooks.after_delete = None
    assert first.storage_failures == 1 and first.transient
    assert first.object_rows_deleted == 1000  # only the batch storage confirmed
    remaining = live_keys()
    in_bucket = s3_storage.keys()
    # No row lost without its object deleted, and no object without its row.
    assert in_bucket <= remaining
    assert set(requests[0]).isdisjoint(remaining)
    second_batch_deleted = set(requests[1]).isdisjoint(in_bucket)
    assert second_batch_deleted is (when == "after_processing")
    assert set(requests[1]) <= remaining

    server.start()
    second = expire_runs_and_files(batch_size=1000)

    assert second.storage_failures == 0
    assert s3_storage.keys() == set(live.keys) == live_keys()
    assert History.objects.filter(id__in=expired.run_ids).count() == 0
    # Every object was really deleted exactly once; none of the live ones.
    assert set(server.log.deleted) == set(expired.keys)
    assert max(server.log.deleted.values()) == 1
    assert sum(server.log.absent.values()) == (1000 if when == "after_processing" else 0)


def parse_summary(output: str) -> tuple[int, int]:
    match = re.search(r"(\d+) object\(s\) deleted \((\d+) already gone\)", output)
    assert match, output
    return int(match[1]), int(match[2])


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_four_cleanup_processes_delete_each_object_exactly_once(any_storage, make_user, seed_runs):
    users = [make_user() for _ in range(8)]
    expired = seed_runs(any_storage, users, 5000)
    live = seed_runs(any_storage, users, 50, expired=False)
    if any_storage.kind == "s3":
        # Slow each request down so that the four really overlap.
        any_storage.server.hooks.before_delete = lambda keys: bool(threading.Event().wait(0.05))
    env = subprocess_env(any_storage.env)

    procs = [manage("cleanup_storage", "--yes", "--batch-size", "50", env=env) for _ in range(4)]
    outputs = [proc.communicate(timeout=240) for proc in procs]

    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], outputs
    counts = [parse_summary(out) for out, _err in outputs]
    assert sum(deleted for deleted, _ in counts) == 5000
    assert sum(missing for _, missing in counts) == 0  # no process removed a file another had removed
    assert sum(1 for deleted, _ in counts if deleted) >= 2, counts  # they did work side by side
    assert any_storage.keys() == set(live.keys) == live_keys()
    assert History.objects.filter(id__in=expired.run_ids).count() == 0
    if any_storage.kind == "s3":
        log = any_storage.server.log
        assert set(log.deleted) == set(expired.keys) and max(log.deleted.values()) == 1
        assert sum(log.absent.values()) == 0
