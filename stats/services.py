"""Writes for statistics. Called by history.services inside the run's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from core.sqlfiles import run_query


def stats_record_start(*, user_id: uuid.UUID, tool_id: str, bytes_in: int, at: datetime) -> None:
    """Count a started run: user totals and breakdown, tool totals, per-day rows."""
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
