from __future__ import annotations

from celery import shared_task

from stats.services import stats_tool_events_roll


# Idempotent by construction: each event is deleted in the statement that adds
# it, so a redelivered or overlapping roll adds nothing twice.
@shared_task(name="stats.tasks.roll_tool_events", acks_late=True, reject_on_worker_lost=True)
def roll_tool_events() -> int:
    return stats_tool_events_roll()
