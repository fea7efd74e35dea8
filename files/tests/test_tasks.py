"""The cleanup task on a real Celery worker process and a real Redis, crashes included."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from files.models import StorageObject
from files.tasks import StorageRetry, delete_owed_blobs, reconcile_storage
from files.tests.conftest import wait_until
from history.models import History
from history.tasks import cleanup_expired

CLEANUP = "history.tasks.cleanup_expired"


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_worker_runs_the_cleanup_task_end_to_end(fs_storage, make_user, seed_runs, celery_workers, send_task):
    users = [make_user(), make_user()]
    expired = seed_runs(fs_storage, users, 300)
    live = seed_runs(fs_storage, users, 20, expired=False)
    worker = celery_workers(fs_storage)

    send_task(CLEANUP, queue=worker.queue, batch_size=100)

    wait_until(
        lambda: not History.objects.filter(id__in=expired.run_ids).exists(),
        timeout=60,
        message="the worker did not clean up:\n" + worker.output(),
    )
    wait_until(lambda: fs_storage.keys() == set(live.keys), timeout=10)
    assert set(StorageObject.objects.values_list("key", flat=True)) == set(live.keys)
    assert f"Task {CLEANUP}" in worker.output()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_worker_killed_mid_batch_the_task_runs_again_and_finishes(
    s3_storage, make_user, seed_runs, celery_workers, send_task
):
    """SIGKILL the process running cleanup while S3 is deleting its first batch.

    The batch's objects go, its transaction dies with the process, so its rows
    stay. acks_late + reject_on_worker_lost put the task back on the queue, a
    fresh pool process runs it again, and that run deletes the keys already
    gone (counted as deleted) and everything else, exactly once.
    """
    users = [make_user(), make_user()]
    expired = seed_runs(s3_storage, users, 3000)
    live = seed_runs(s3_storage, users, 20, expired=False)
    server = s3_storage.server
    in_first_request, release = threading.Event(), threading.Event()
    first_keys: list[str] = []

    def hold_first_request(keys: list[str]) -> bool:
        if not first_keys:
            first_keys.extend(keys)
            in_first_request.set()
            release.wait(30)
        return False

    server.hooks.after_delete = hold_first_request
    worker = celery_workers(s3_storage)

    send_task(CLEANUP, queue=worker.queue, batch_size=500)
    assert in_first_request.wait(60), worker.output()
    [child] = worker.child_pids()
    os.kill(child, signal.SIGKILL)
    wait_until(lambda: child not in worker.child_pids(), timeout=20)
    # The dead batch's objects are gone but its rows are still there.
    assert StorageObject.objects.filter(key__in=first_keys).count() == 500
    assert s3_storage.keys().isdisjoint(first_keys)
    release.set()

    wait_until(
        lambda: not History.objects.filter(id__in=expired.run_ids).exists(),
        timeout=90,
        message="the task was not run again to completion:\n" + worker.output(),
    )
    assert "WorkerLostError" in worker.output() or "SIGKILL" in worker.output()
    assert s3_storage.keys() == set(live.keys)
    assert set(StorageObject.objects.values_list("key", flat=True)) == set(live.keys)
    log = server.log
    assert set(log.deleted) == set(expired.keys) and max(log.deleted.values()) == 1
    assert set(log.absent) == set(first_keys)  # asked again only for the batch that died


def test_cleanup_tasks_are_late_acknowledged_and_retry_storage_outages_with_backoff_and_jitter():
    for task in (cleanup_expired, delete_owed_blobs):
        assert task.acks_late and task.reject_on_worker_lost
        assert task.autoretry_for == (StorageRetry,)
        assert task.retry_backoff and task.retry_jitter and task.max_retries == 5
    # A long weekly pass is not redelivered (and run twice) after the visibility timeout.
    assert not reconcile_storage.acks_late


@pytest.mark.django_db
def test_cleanup_task_raises_for_retry_when_storage_is_down(s3_storage, user, seed_runs):
    seed_runs(s3_storage, [user], 3)
    s3_storage.server.stop()

    # The task body; Celery's autoretry_for turns StorageRetry into a delayed retry.
    with pytest.raises(StorageRetry, match="DeleteObjects"):
        cleanup_expired.run(batch_size=10)

    assert StorageObject.objects.count() == 3
