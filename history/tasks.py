from __future__ import annotations

import uuid
from typing import Any

from celery import shared_task

from files.tasks import RETRY_TRANSIENT_STORAGE, StorageRetry
from history.expiry import expire_runs_and_files
from history.processing import run_process
from history.services import runs_reap_stuck


@shared_task(name="history.tasks.reap_stuck_runs", acks_late=True)
def reap_stuck_runs() -> dict[str, int]:
    """Periodic: fail and refund stuck runs. Idempotent, so a redelivery is harmless."""
    result = runs_reap_stuck(dry_run=False)
    return {"found": result.found, "failed": result.failed}


# acks_late: a task lost with its worker is redelivered; run_process then finds
# the run already PROCESSING and leaves it to the reaper, so it never runs twice.
@shared_task(name="history.tasks.process_run", acks_late=True, soft_time_limit=120, time_limit=150)
def process_run(run_id: str) -> None:
    run_process(run_id=uuid.UUID(run_id))


# Idempotent (a second pass finds nothing to do, and an object already gone
# counts as deleted), so it acknowledges late: a worker lost mid-pass gets the
# pass run again instead of dropping it.
@shared_task(
    name="history.tasks.cleanup_expired", acks_late=True, reject_on_worker_lost=True, **RETRY_TRANSIENT_STORAGE
)
def cleanup_expired(*, batch_size: int | None = None, limit: int | None = None) -> dict[str, Any]:
    result = expire_runs_and_files(batch_size=batch_size, limit=limit)
    if result.storage_failures and result.transient:
        raise StorageRetry(result.error)
    return result.as_dict()
