"""Reads of runs. Each takes the owner's id: another user's run is simply not found."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

from history.exceptions import InvalidRunInput
from history.models import History


@dataclass(frozen=True)
class RunPage:
    runs: list[History]
    next_cursor: str | None


def encode_cursor(run: History) -> str:
    raw = f"{run.created_at.isoformat()}|{run.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, run_id = raw.split("|")
        return datetime.fromisoformat(created_at), uuid.UUID(run_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRunInput("The cursor is not one this API returned.") from None


def runs_page(
    *,
    user_id: uuid.UUID,
    limit: int = 20,
    cursor: str | None = None,
    status: str | None = None,
    tool_id: str | None = None,
) -> RunPage:
    """A user's runs, newest first, keyset-paginated on (created_at, id) (seed 001).

    Served by history_user_newest_idx (user_id, created_at DESC, id DESC): the
    cost of a page does not grow with the number of pages before it.
    """
    runs = History.objects.filter(user_id=user_id)
    if status:
        runs = runs.filter(status=status)
    if tool_id:
        runs = runs.filter(tool_id=tool_id)
    if cursor:
        created_at, run_id = decode_cursor(cursor)
        runs = runs.filter(created_at__lte=created_at).exclude(created_at=created_at, id__gte=run_id)
    rows = list(runs.order_by("-created_at", "-id")[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return RunPage(runs=rows[:limit], next_cursor=next_cursor)


def run_for_user(*, user_id: uuid.UUID, run_id: uuid.UUID) -> History | None:
    return History.objects.filter(user_id=user_id, id=run_id).first()


# Multipart framing around the files of one request.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def run_upload_body_limit() -> int:
    """The largest request body ``POST /api/runs`` may carry, whoever sends it.

    The most files a tool takes, times the largest file any active plan
    allows, plus framing. Checked before the body is read (see
    versatools.middleware); each file is then measured against the sender's
    own plan.
    """
    from django.conf import settings
    from django.db.models import Max

    from billing.models import Plan
    from tools.registry import all_tools

    largest = Plan.objects.filter(active=True).aggregate(largest=Max("max_file_bytes"))["largest"]
    per_file = max(largest or 0, settings.UPLOAD_MAX_BYTES)
    return max(tool.max_inputs for tool in all_tools()) * per_file + MULTIPART_OVERHEAD_BYTES
