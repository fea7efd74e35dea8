"""JSON endpoints for a user's files: thin edges over files.selectors and files.services.

The GET runs as the caller under row level security (``versatools.api``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from ninja import Query, Router, Schema, Status
from pydantic import Field

from accounts.auth import AuthenticatedRequest
from core.schemas import with_errors
from files.selectors import storage_objects_page, storage_usage
from files.services import storage_object_delete
from history.models import UNFINISHED_STATUSES

router = Router(tags=["files"])

# A stored object's role (files.models.ObjectRole).
FileKind = Literal["input", "output"]


class FileFilters(Schema):
    kind: FileKind | None = None
    tool: str | None = Field(default=None, max_length=64)
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


class ToolOut(Schema):
    id: str
    name: str


class FileOut(Schema):
    id: uuid.UUID
    name: str
    kind: str
    content_type: str
    size: int
    tool: ToolOut | None
    run_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    # A direct upload reserved and not yet started: its bytes already count as used.
    awaiting_upload: bool


class StorageOut(Schema):
    used_bytes: int
    limit_bytes: int


class FilePageOut(Schema):
    items: list[FileOut]
    next_cursor: str | None
    storage: StorageOut


@router.get("/files", response=with_errors({200: FilePageOut}))
def files_list(request: AuthenticatedRequest, filters: Query[FileFilters]) -> dict[str, object]:
    """The caller's files, newest first (keyset cursor), with their storage used and their plan's limit."""
    user = request.auth
    page = storage_objects_page(
        user_id=user.id, limit=filters.limit, cursor=filters.cursor, kind=filters.kind, tool_id=filters.tool
    )
    return {"items": page.items, "next_cursor": page.next_cursor, "storage": storage_usage(user_id=user.id)}


@router.delete("/files/{file_id}", response=with_errors({204: None}))
def files_delete(request: AuthenticatedRequest, file_id: uuid.UUID) -> Status[None]:
    """Deletes one file (its blob after commit; its bytes come off the storage used).

    409 while the file's run is PENDING or PROCESSING: its worker still needs
    it (delete the run instead, which fails and refunds it first).
    """
    storage_object_delete(user_id=request.auth.id, object_id=file_id, refuse_while_run_in=UNFINISHED_STATUSES)
    return Status(204, None)
