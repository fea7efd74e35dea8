"""JSON endpoints for runs: thin edges over history.selectors and history.services."""

from __future__ import annotations

import uuid
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from history.exceptions import RunNotFound
from history.models import History
from history.schemas import RunOut, RunPageOut
from history.selectors import run_for_user, runs_page
from history.services import run_delete
from versatools.rls import rls_as_user

router = Router(tags=["runs"])

RunStatusName = Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED"]


class HistoryFilters(Schema):
    status: RunStatusName | None = None
    tool: str | None = Field(default=None, max_length=64)
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


@router.get("/history", response=RunPageOut)
def history_list(request: HttpRequest, filters: Query[HistoryFilters]) -> dict[str, object]:
    user = request.auth
    with rls_as_user(user.id):
        page = runs_page(
            user_id=user.id, limit=filters.limit, cursor=filters.cursor, status=filters.status, tool_id=filters.tool
        )
    return {"items": page.runs, "next_cursor": page.next_cursor}


@router.get("/history/{run_id}", response=RunOut)
def history_detail(request: HttpRequest, run_id: uuid.UUID) -> History:
    user = request.auth
    with rls_as_user(user.id):
        run = run_for_user(user_id=user.id, run_id=run_id)
    if run is None:
        raise RunNotFound("No such run.")
    return run


@router.delete("/history/{run_id}", response={204: None})
def history_delete(request: HttpRequest, run_id: uuid.UUID) -> Status[None]:
    """Deletes the run and its files (after commit); statistics and ledger stay."""
    run_delete(user_id=request.auth.id, run_id=run_id)
    return Status(204, None)
