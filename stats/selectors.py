"""Reads of statistics, and the one-call dashboard of the Bento grid."""

from __future__ import annotations

import uuid
from datetime import UTC, date, timedelta
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from billing.models import UsageCounter
from billing.selectors import RUNS_METRIC, STORAGE_METRIC, STORAGE_WINDOW, effective_plan, usage_window_bounds
from core.sqlfiles import run_query
from history.models import History
from stats.models import UserDailyUsage, UserStats
from tools.registry import get_tool

DASHBOARD_DAYS = 30
DASHBOARD_RECENT_RUNS = 10


def tool_statistics_all() -> list[dict[str, Any]]:
    """The global per-tool counters as of now (rolled up plus the events' tail), by tool id: one query."""
    rows = run_query("tool_statistics_current", {})
    for row in rows:
        if isinstance(row["last_used_at"], str):  # SQLite hands back the text it stores (UTC)
            parsed = parse_datetime(row["last_used_at"])
            if parsed is not None and timezone.is_naive(parsed):
                parsed = timezone.make_aware(parsed, UTC)
            row["last_used_at"] = parsed
    return rows


def tool_statistics_for(*, tool_id: str) -> dict[str, Any] | None:
    return next((row for row in tool_statistics_all() if row["tool_id"] == tool_id), None)


def dashboard_for_user(*, user_id: uuid.UUID) -> dict[str, Any]:
    """Everything one Bento grid needs, in four queries whatever the data size.

    1. their effective plan (the rule every limit check uses), 2. the user
       with statistics, balance and subscription (joins) and their storage
       and current-window run counters (subqueries), 3. the newest runs (an
       index range), 4. the per-day rows of the last 30 days (an index range).
    """
    # What is enforced, not what the subscription names: a cancelled Pro user is on Free.
    now = timezone.now()
    plan = effective_plan(user_id=user_id, at=now)
    limits, plan_name = plan.limits, plan.name
    window_start, window_end = usage_window_bounds(window=limits.usage_window, at=now)
    storage_used = UsageCounter.objects.filter(
        user_id=OuterRef("id"), metric=STORAGE_METRIC, window_start=STORAGE_WINDOW[0]
    ).values("count")[:1]
    runs_used = UsageCounter.objects.filter(
        user_id=OuterRef("id"), metric=RUNS_METRIC, window_start=window_start
    ).values("count")[:1]
    user = (
        User.objects.select_related("stats", "credit_balance", "subscription")
        .defer("password")  # not readable by the authenticated role (sql/rls/accounts.sql)
        .annotate(storage_used=Subquery(storage_used), runs_used=Subquery(runs_used))
        .get(id=user_id)
    )
    stats = getattr(user, "stats", None)
    balance = getattr(user, "credit_balance", None)
    subscription = getattr(user, "subscription", None)

    recent = list(History.objects.filter(user_id=user_id).order_by("-created_at", "-id")[:DASHBOARD_RECENT_RUNS])

    today = now.date()
    since = today - timedelta(days=DASHBOARD_DAYS - 1)
    series: dict[str, list[int]] = {}
    for day, tool_id, runs in UserDailyUsage.objects.filter(user_id=user_id, day__gte=since).values_list(
        "day", "tool_id", "runs"
    ):
        series.setdefault(tool_id, [0] * DASHBOARD_DAYS)[(day - since).days] = runs

    return {
        "totals": {
            "total_used": stats.total_used if stats else 0,
            "by_tool": stats.tools_breakdown if stats else {},
            "last_used_at": stats.last_used_at if stats else None,
        },
        "credits_remaining": balance.credits_remaining if balance else None,
        "plan": {
            "key": limits.plan_key,
            "name": plan_name,
            "runs_per_window": limits.runs_per_window,
            "usage_window": limits.usage_window,
            "retention_hours": limits.retention_hours,
            "runs_used": user.runs_used or 0,
            "window_resets_at": window_end,
        },
        "subscription": (
            {
                "status": subscription.status,
                "current_period_end": subscription.current_period_end,
                "trial_ends_at": subscription.trial_ends_at,
            }
            if subscription
            else None
        ),
        "storage": {"used_bytes": user.storage_used or 0, "limit_bytes": limits.storage_bytes},
        "recent_runs": recent,
        "daily": {"days": [since + timedelta(days=i) for i in range(DASHBOARD_DAYS)], "by_tool": series},
        # Names for the ids above (the per-tool totals and series), from the registry.
        "tool_names": {
            tool_id: _tool_name(tool_id) for tool_id in {*series, *(stats.tools_breakdown if stats else {})}
        },
    }


def runs_by_day(*, user_id: uuid.UUID, since_day: date) -> list[dict[str, Any]]:
    """The user's runs per UTC day and tool since ``since_day``, from the daily rollup: one query.

    Served by the rollup's (user, day, tool) key; the tool's display name
    comes from the registry (a tool since removed keeps its id).
    """
    rows = (
        UserDailyUsage.objects.filter(user_id=user_id, day__gte=since_day)
        .values("day", "tool_id", "runs", "completed", "failed")
        .order_by("day", "tool_id")
    )
    return [{**row, "tool_name": _tool_name(row["tool_id"])} for row in rows]


def _tool_name(tool_id: str) -> str:
    spec = get_tool(tool_id)
    return spec.name if spec else tool_id


def usage_export(*, user_id: uuid.UUID) -> dict[str, Any]:
    """The person's own counters (totals, per tool, per day), for their data export: two queries."""
    totals = UserStats.objects.filter(user_id=user_id).values("total_used", "tools_breakdown", "last_used_at").first()
    days = UserDailyUsage.objects.filter(user_id=user_id).order_by("day", "tool_id")
    return {
        "usage_totals": totals,
        "usage_by_day": list(days.values("day", "tool_id", "runs", "completed", "failed", "bytes_in", "bytes_out")),
    }
