from __future__ import annotations

from celery import shared_task

from history.services import runs_reap_stuck


@shared_task(name="history.tasks.reap_stuck_runs", acks_late=True)
def reap_stuck_runs() -> dict[str, int]:
    """Periodic: fail and refund stuck runs. Idempotent, so a redelivery is harmless."""
    result = runs_reap_stuck(dry_run=False)
    return {"found": result.found, "failed": result.failed}
