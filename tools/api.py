"""``GET /api/tools``: the tool hub's catalog, with the caller's plan limits (a thin edge over history.catalog)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema

from accounts.auth import AuthenticatedRequest
from core.schemas import with_errors
from history.catalog import caller_limits, tools_enabled, upload_method

router = Router(tags=["tools"])


class CatalogToolOut(Schema):
    id: str
    name: str
    description: str
    icon: str
    workspace: str
    tags: list[str]
    credit_cost: int
    accepted_types: list[str]
    min_files: int
    max_files: int


class CallerLimitsOut(Schema):
    plan_key: str
    plan_name: str
    max_file_bytes: int
    runs_per_window: int | None
    usage_window: str
    runs_used: int
    window_resets_at: datetime
    storage_bytes: int
    storage_used_bytes: int
    retention_hours: int
    credits_remaining: int | None


class CatalogOut(Schema):
    tools: list[CatalogToolOut]
    limits: CallerLimitsOut
    upload: str


@router.get("/tools", response=with_errors({200: CatalogOut}))
def tools_catalog(request: AuthenticatedRequest) -> dict[str, Any]:
    """Every tool the caller can start, with price, accepted types and file counts, and the caller's plan limits.

    ``upload`` says how the input travels: ``direct`` (``POST /api/uploads``,
    then ``upload_id``) when storage is S3, else ``multipart``.
    """
    return {"tools": tools_enabled(), "limits": caller_limits(user_id=request.auth.id), "upload": upload_method()}
