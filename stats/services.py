"""Writes for statistics. Called by history.services inside the run's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction

from core.retry import retry_on_lock_conflict
from core.sqlfiles import run_query


def stats_record_start(*, user_id: uuid.UUID, tool_id: str, bytes_in: int, at: datetime) -> None:
    """Count a started run: user totals, breakdown and day row; a tool usage event for the global counters."""
    run_query(
        "stats_record_start",
        {"user_id": user_id, "tool_id": tool_id, "bytes_in": bytes_in, "at": at, "day": at.date()},
    )


def stats_record_finish(*, user_id: uuid.UUID, tool_id: str, completed: bool, bytes_out: int, at: datetime) -> None:
    """Count a run that completed (with its output bytes) or failed."""
    run_query(
        "stats_record_finish",
        {
            "user_id": user_id,
            "tool_id": tool_id,
            "completed": int(completed),
            "failed": int(not completed),
            "bytes_out": bytes_out,
            "day": at.date(),
        },
    )


# Events moved per statement: one roll's transaction stays short (a few ms)
# however large a backlog an outage of beat left behind.
TOOL_EVENTS_ROLL_BATCH = 10_000


def stats_tool_events_roll(*, batch: int = TOOL_EVENTS_ROLL_BATCH, max_batches: int = 100) -> int:
    """Add the runs' tool usage events to ``tool_statistics`` and ``daily_tool_usage``; how many were moved.

    Each batch is one statement in its own transaction (``stats_tool_events_roll.sql``):
    the events it deletes and the sums it adds commit together, so an event
    is counted once whether a roll crashes, two rolls overlap (SKIP LOCKED:
    they take different events) or a task is delivered twice. The only
    writer of the shared per-tool rows, a few times a minute, instead of
    every run.
    """
    moved = 0
    for _ in range(max_batches):
        events = _roll_batch(batch=batch)
        moved += events
        if events < batch:
            break
    return moved


@retry_on_lock_conflict
@transaction.atomic
def _roll_batch(*, batch: int) -> int:
    [row] = run_query("stats_tool_events_roll", {"limit": batch})
    return int(row["events"])
