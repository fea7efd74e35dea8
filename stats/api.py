"""JSON endpoints for the dashboard and the global tool statistics.

Both run as the caller under row level security (``versatools.api``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Router, Schema

from accounts.auth import AuthenticatedRequest
from core.schemas import with_errors
from history.schemas import RunOut
from stats.selectors import dashboard_for_user, tool_statistics_all

router = Router(tags=["stats"])


class TotalsOut(Schema):
    total_used: int
    by_tool: dict[str, int]
    last_used_at: datetime | None


class PlanOut(Schema):
    key: str
    name: str
    runs_per_window: int | None
    usage_window: str
    retention_hours: int


class SubscriptionOut(Schema):
    status: str
    current_period_end: datetime | None
    trial_ends_at: datetime | None


class StorageOut(Schema):
    used_bytes: int
    limit_bytes: int


class DailyOut(Schema):
    days: list[date]
    by_tool: dict[str, list[int]]


class DashboardOut(Schema):
    totals: TotalsOut
    credits_remaining: int | None
    plan: PlanOut
    subscription: SubscriptionOut | None
    storage: StorageOut
    recent_runs: list[RunOut]
    daily: DailyOut


class ToolStatisticsOut(Schema):
    tool_id: str
    runs: int
    completed: int
    failed: int
    bytes_in: int
    bytes_out: int
    last_used_at: datetime | None


@router.get("/dashboard", response=with_errors({200: DashboardOut}))
def dashboard(request: AuthenticatedRequest) -> dict[str, Any]:
    return dashboard_for_user(user_id=request.auth.id)


@router.get("/stats/tools", response=with_errors({200: list[ToolStatisticsOut]}))
def tools_statistics(request: AuthenticatedRequest) -> list[Any]:
    return tool_statistics_all()
