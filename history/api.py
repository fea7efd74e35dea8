"""JSON endpoints for runs: thin edges over history.selectors and history.services.

The GETs run as the caller under row level security (``versatools.api``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
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
from history.exceptions import InvalidRunInput, RunNotFound
from history.models import History, RunStatus
from history.processing import Upload, run_submit, run_submit_uploaded, run_upload_reserve
from history.schemas import RunOut, RunPageOut
from history.selectors import run_for_user, run_submit_caller, runs_page
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


class UploadIn(Schema):
    tool_id: str = Field(max_length=64)
    file_name: str = Field(min_length=1, max_length=1024)
    content_type: str = Field(min_length=1, max_length=127)
    size: int = Field(ge=1)


class UploadTargetOut(Schema):
    method: str
    url: str
    fields: dict[str, str]
    headers: dict[str, str]


class UploadOut(Schema):
    upload_id: uuid.UUID
    size: int
    content_type: str
    expires_at: datetime
    target: UploadTargetOut


@router.post("/uploads", response=with_errors({201: UploadOut}))
def uploads_create(request: AuthenticatedRequest, body: UploadIn) -> Status[dict[str, object]]:
    """Reserve a direct upload: 201 with an upload id and a signed target to send the bytes to.

    Send the file to ``target`` (a form POST with ``fields`` then the file,
    or a PUT with ``headers``) before ``expires_at``, then start the run with
    ``POST /api/runs`` and ``upload_id``. The bytes count against the
    storage quota from now; an upload never started is deleted on expiry.
    """
    caller = run_submit_caller(user_id=request.auth.id)
    reservation = run_upload_reserve(
        user_id=request.auth.id,
        tool_id=body.tool_id,
        name=body.file_name,
        content_type=body.content_type,
        size=body.size,
        limits=caller.limits,
        email_verified=caller.email_verified,
    )
    obj, target = reservation.object, reservation.target
    return Status(
        201,
        {
            "upload_id": obj.id,
            "size": obj.size,
            "content_type": obj.content_type,
            "expires_at": obj.expires_at,
            "target": {"method": target.method, "url": target.url, "fields": target.fields, "headers": target.headers},
        },
    )


@router.post("/runs", response=with_errors({200: RunOut, 201: RunOut}))
def runs_create(
    request: AuthenticatedRequest,
    tool_id: Form[str],
    file: File[list[UploadedFile] | None] = None,
    upload_id: Form[list[uuid.UUID] | None] = None,
    idempotency_key: str = Header(..., alias="Idempotency-Key", min_length=1, max_length=255),
) -> Status[History]:
    """Start a run on uploaded input file(s): 201 with the PENDING run, 200 for a replayed Idempotency-Key.

    The files come in the request (``file``, multipart) or were sent to
    storage directly (``upload_id``, one per file, from ``POST /api/uploads``).
    """
    user = request.auth
    if file and upload_id:
        raise InvalidRunInput("Send the input as file (multipart) or as upload_id (direct uploads), not both.")
    if not file and not upload_id:
        raise InvalidRunInput("Send the input: file (multipart), or upload_id from POST /api/uploads.")
    if upload_id:
        result = run_submit_uploaded(
            user_id=user.id,
            tool_id=tool_id,
            upload_ids=list(upload_id),
            idempotency_key=idempotency_key,
            email_verified=getattr(request, "upload_email_verified", None),
        )
        return Status(201 if result.created else 200, result.run)
    assert file is not None
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
