"""JSON endpoints for runs: thin edges over history.selectors and history.services.

The GETs run as the caller under row level security (``versatools.api``).
"""

from __future__ import annotations

import uuid
from typing import Literal

from django.http import FileResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from ninja import File, Form, Header, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from accounts.auth import AuthenticatedRequest
from core.schemas import with_errors
from files.models import ObjectRole, StorageObject
from files.selectors import storage_object_download
from history.exceptions import RunNotFound
from history.models import History, RunStatus
from history.processing import Upload, run_submit
from history.schemas import RunOut, RunPageOut
from history.selectors import run_for_user, runs_page
from history.services import run_delete

router = Router(tags=["runs"])

RunStatusName = Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED"]


class HistoryFilters(Schema):
    status: RunStatusName | None = None
    tool: str | None = Field(default=None, max_length=64)
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


@router.get("/history", response=with_errors({200: RunPageOut}))
def history_list(request: AuthenticatedRequest, filters: Query[HistoryFilters]) -> dict[str, object]:
    user = request.auth
    page = runs_page(
        user_id=user.id, limit=filters.limit, cursor=filters.cursor, status=filters.status, tool_id=filters.tool
    )
    return {"items": page.runs, "next_cursor": page.next_cursor}


@router.get("/history/{run_id}", response=with_errors({200: RunOut}))
def history_detail(request: AuthenticatedRequest, run_id: uuid.UUID) -> History:
    user = request.auth
    run = run_for_user(user_id=user.id, run_id=run_id)
    if run is None:
        raise RunNotFound("No such run.")
    return run


@router.delete("/history/{run_id}", response=with_errors({204: None}))
def history_delete(request: AuthenticatedRequest, run_id: uuid.UUID) -> Status[None]:
    """Deletes the run and its files (after commit); statistics and ledger stay."""
    run_delete(user_id=request.auth.id, run_id=run_id)
    return Status(204, None)


@router.post("/runs", response=with_errors({200: RunOut, 201: RunOut}))
def runs_create(
    request: AuthenticatedRequest,
    tool_id: Form[str],
    file: File[list[UploadedFile]],
    idempotency_key: str = Header(..., alias="Idempotency-Key", min_length=1, max_length=255),
) -> Status[History]:
    """Upload the input file(s) and start a run: 201 with the PENDING run, 200 for a replayed Idempotency-Key."""
    user = request.auth
    # The body's size was checked before it was read (versatools.middleware,
    # which looked up the sender's plan limits once for this request);
    # run_submit measures each file against them.
    result = run_submit(
        user_id=user.id,
        tool_id=tool_id,
        uploads=[Upload(file=upload, name=upload.name or "") for upload in file],
        idempotency_key=idempotency_key,
        limits=getattr(request, "upload_plan_limits", None),
        email_verified=getattr(request, "upload_email_verified", None),
    )
    return Status(201 if result.created else 200, result.run)


@router.get("/runs/{run_id}/download", response=with_errors({200: None, 302: None}))
def runs_download(request: AuthenticatedRequest, run_id: uuid.UUID) -> HttpResponseBase:
    """The run's output: a redirect to a short-lived signed URL (S3) or the file itself."""
    user = request.auth
    object_id = (
        StorageObject.objects.filter(
            run_id=run_id, user_id=user.id, role=ObjectRole.OUTPUT, run__status=RunStatus.COMPLETED
        )
        .values_list("id", flat=True)
        .first()
    )
    if object_id is None:
        raise RunNotFound("No such run, or it has no output (yet).")
    download = storage_object_download(user_id=user.id, object_id=object_id)
    if download.url:
        return HttpResponseRedirect(download.url)
    # Opened under the read's transaction (versatools.rls), streamed after it
    # commits: an open file does not depend on the transaction.
    return FileResponse(
        download.file, as_attachment=True, filename=download.filename, content_type=download.content_type
    )
