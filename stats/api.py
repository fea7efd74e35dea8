"""JSON endpoints for the dashboard and the global tool statistics.

Both run as the caller under row level security (``versatools.api``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from ninja import Query, Router, Schema
from pydantic import Field

from accounts.auth import AuthenticatedRequest
from billing.selectors import credits_by_day
from core.schemas import with_errors
from history.schemas import RunOut
from stats.selectors import dashboard_for_user, runs_by_day, tool_statistics_all

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
    runs_used: int
    window_resets_at: datetime


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
    tool_names: dict[str, str]


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


class UsageQuery(Schema):
    days: int = Field(default=30, ge=1, le=366)


class RunsDayOut(Schema):
    day: date
    tool_id: str
    tool_name: str
    runs: int
    completed: int
    failed: int


class CreditsDayOut(Schema):
    day: date
    operation_type: str
    credits: int  # the ledger's sign: positive spent, negative refunded or granted
    entries: int


class UsageTotalsOut(Schema):
    runs: int
    credits_spent: int
    credits_refunded: int
    credits_granted: int


class UsageOut(Schema):
    days: int
    since: date
    runs: list[RunsDayOut]
    credits: list[CreditsDayOut]
    totals: UsageTotalsOut


@router.get("/usage", response=with_errors({200: UsageOut}))
def usage(request: AuthenticatedRequest, query: Query[UsageQuery]) -> dict[str, Any]:
    """The caller's runs per tool and credits per operation type, per UTC day, for the last ``days`` days.

    Two queries whatever the history's size: the daily rollup and the ledger summed by day.
    """
    since = datetime.now(UTC).date() - timedelta(days=query.days - 1)
    runs = runs_by_day(user_id=request.auth.id, since_day=since)
    credits = credits_by_day(user_id=request.auth.id, since=datetime.combine(since, datetime.min.time(), UTC))
    by_type: dict[str, int] = {}
    for row in credits:
        by_type[row["operation_type"]] = by_type.get(row["operation_type"], 0) + row["credits"]
    return {
        "days": query.days,
        "since": since,
        "runs": runs,
        "credits": credits,
        "totals": {
            "runs": sum(row["runs"] for row in runs),
            "credits_spent": by_type.get("tool_run", 0),
            "credits_refunded": -by_type.get("refund", 0),
            "credits_granted": -sum(by_type.get(kind, 0) for kind in ("grant", "plan_credits", "correction")),
        },
    }
