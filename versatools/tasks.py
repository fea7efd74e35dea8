"""Project-wide periodic tasks that belong to no app."""

from __future__ import annotations

from celery import shared_task
from django.core.management import call_command


# Idempotent (deletes sessions past their expiry), so it may acknowledge late.
@shared_task(name="versatools.tasks.clear_expired_sessions", acks_late=True)
def clear_expired_sessions() -> None:
    call_command("clearsessions")
