"""Reads of runs. Each takes the owner's id: another user's run is simply not found."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from billing.selectors import PlanLimits, default_limits, plan_limits_from_row
from core.cursors import cursor_decode, cursor_encode
from core.sqlfiles import run_query
from history.exceptions import InvalidRunInput
from history.models import History, RunStatus
from tools.registry import all_tools, get_tool

FINISHED_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED)


@dataclass(frozen=True)
class RunPage:
    runs: list[History]
    next_cursor: str | None


def runs_page(
    *,
    user_id: uuid.UUID,
    limit: int = 20,
    cursor: str | None = None,
    status: str | None = None,
    tool_id: str | None = None,
) -> RunPage:
    """A user's runs, newest first, keyset-paginated on (created_at, id).

    Served by history_user_newest_idx (user_id, created_at DESC, id DESC): the
    cost of a page does not grow with the number of pages before it.
    """
    runs = History.objects.filter(user_id=user_id)
    if status:
        runs = runs.filter(status=status)
    if tool_id:
        # An unknown id is a mistake to say, not "no runs": the client would
        # show an empty history for a typo.
        if get_tool(tool_id) is None:
            known = ", ".join(tool.id for tool in all_tools())
            raise InvalidRunInput(f"There is no tool {tool_id!r} to filter by; known: {known}.")
        runs = runs.filter(tool_id=tool_id)
    if cursor:
        created_at, run_id = cursor_decode(cursor, key=uuid.UUID, invalid=InvalidRunInput)
        runs = runs.filter(created_at__lte=created_at).exclude(created_at=created_at, id__gte=run_id)
    rows = list(runs.order_by("-created_at", "-id")[: limit + 1])
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = cursor_encode(at=last.created_at, key=last.id) if last else None
    return RunPage(runs=rows[:limit], next_cursor=next_cursor)


def run_for_user(*, user_id: uuid.UUID, run_id: uuid.UUID) -> History | None:
    return History.objects.filter(user_id=user_id, id=run_id).first()


# Multipart framing of one file's part: its boundary line and headers, with
# a name of up to 255 bytes that a client may send twice (filename and the
# percent-encoded filename*, three bytes per byte): about 1 KiB at worst.
MULTIPART_PART_OVERHEAD_BYTES = 4 * 1024
# The rest of the form: tool_id, a csrfmiddlewaretoken, the closing boundary.
MULTIPART_FORM_OVERHEAD_BYTES = 16 * 1024


def run_upload_body_limit(*, limits: PlanLimits) -> int:
    """The largest request body ``POST /api/runs`` may carry from this user.

    The plan's limit is per file and the tool is named inside the body, so
    the bound is what the tool taking the most files may legitimately carry
    (a pdf-merge of 10 files, each at the limit), plus a little framing per
    file: a larger body cannot be a valid request from this user. Checked
    against the declared Content-Length before the body is read (see
    versatools.middleware); run_submit then measures each file itself, so a
    body within this bound with one oversize file is still refused.
    """
    per_file = limits.max_file_bytes
    most_files = max(tool.max_inputs for tool in all_tools())
    return most_files * (per_file + MULTIPART_PART_OVERHEAD_BYTES) + MULTIPART_FORM_OVERHEAD_BYTES


def runs_expired_count(*, now: datetime) -> int:
    """Finished runs past their expiry: what the next cleanup pass deletes (unfinished ones wait for the reaper)."""
    return History.objects.filter(expires_at__lte=now, status__in=FINISHED_STATUSES).count()


@dataclass(frozen=True)
class RunSubmitCaller:
    """What an upload needs to know of its sender, read before its body."""

    limits: PlanLimits
    email_verified: bool


def run_submit_caller(*, user_id: uuid.UUID) -> RunSubmitCaller:
    """The sender's plan limits and whether their address is verified, in one statement.

    The two rules stay where they are written (fragments/effective_plan.sql,
    fragments/email_verified.sql); this only reads both at once, so that an
    upload costs one read of its sender (the middleware does it before the
    body, and hands it to ``run_submit``).
    """
    [row] = run_query("run_submit_caller", {"user_id": user_id, "now": timezone.now()})
    limits = default_limits() if row["plan_key"] is None else plan_limits_from_row(row)
    return RunSubmitCaller(limits=limits, email_verified=bool(row["email_verified"]))


EXPORT_RUN_COLUMNS = (
    "id",
    "tool_id",
    "tool_name",
    "status",
    "input_file_name",
    "output_file_name",
    "metadata",
    "error_message",
    "bytes_in",
    "bytes_out",
    "credits_charged",
    "created_at",
    "started_at",
    "finished_at",
    "expires_at",
)


def runs_export(*, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every run of the person, oldest first, for their data export: one query."""
    return list(History.objects.filter(user_id=user_id).order_by("created_at", "id").values(*EXPORT_RUN_COLUMNS))
