"""Project-wide periodic tasks that belong to no app."""

from __future__ import annotations

from celery import shared_task
from django.core.management import call_command


# Idempotent (deletes sessions past their expiry), so it may acknowledge late.
@shared_task(name="versatools.tasks.clear_expired_sessions", acks_late=True)
def clear_expired_sessions() -> None:
    call_command("clearsessions")


# Not acknowledged late: a dump redelivered after a lost worker would run twice
# (a second copy, pruned in time), while the next day's run covers a lost one.
@shared_task(name="versatools.tasks.backup_database")
def backup_database() -> dict[str, object]:
    from versatools.backups import backup_run

    result = backup_run()
    return {"name": result.name, "size": result.size, "pruned": result.pruned, "skipped": result.skipped}
