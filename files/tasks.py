"""Celery tasks for stored files. Thin: call a service, retry transient storage errors.

(The expiry pass, which takes runs with their files, is history's:
history.tasks.cleanup_expired.) Owed deletes are idempotent (a second run finds nothing to do,
and an object already gone counts as deleted), so they acknowledge late: a
worker lost mid-task gets the task run again instead of dropping it.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from files.cleanup import storage_deletions_process
from files.reconcile import storage_reconcile


class StorageRetry(Exception):
    """Storage did not answer; the task runs again later (backoff with jitter)."""


RETRY_TRANSIENT_STORAGE = {
    "autoretry_for": (StorageRetry,),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(
    name="files.tasks.delete_owed_blobs", acks_late=True, reject_on_worker_lost=True, **RETRY_TRANSIENT_STORAGE
)
def delete_owed_blobs(*, keys: list[str] = (), ids: list[int] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    # Queued after commit of a delete; if it never succeeds, cleanup finishes the rows.
    # ``ids``: messages queued before owed deletes were written by the trigger.
    result = storage_deletions_process(ids=ids, keys=keys)
    if result.storage_failures and result.transient:
        raise StorageRetry(result.error)
    return result.as_dict()


# Not acks_late: a long weekly pass redelivered after the broker's visibility
# timeout would run twice at once for nothing.
@shared_task(name="files.tasks.reconcile_storage")
def reconcile_storage() -> dict[str, Any]:
    return storage_reconcile(repair=True).as_dict()
