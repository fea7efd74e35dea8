"""Reads for billing: a user's effective plan limits, tool prices, usage windows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from billing.models import AdminSettings, Plan, Subscription, SubscriptionStatus
from versatools.sqlfiles import run_query

# Subscriptions in these states still grant their plan's limits.
ENTITLED_STATUSES = (SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)
FREE_PLAN_KEY = "free"

RUNS_METRIC = "runs"
STORAGE_METRIC = "storage_bytes"
# Storage is a standing total, not a per-period allowance: one window for all time.
STORAGE_WINDOW = (datetime(2000, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class PlanLimits:
    plan_key: str
    runs_per_window: int | None
    usage_window: str
    max_file_bytes: int
    storage_bytes: int
    retention_hours: int

    @classmethod
    def from_plan(cls, plan: Plan) -> PlanLimits:
        return cls(
            plan_key=plan.key,
            runs_per_window=plan.runs_per_window,
            usage_window=plan.usage_window,
            max_file_bytes=plan.max_file_bytes,
            storage_bytes=plan.storage_bytes,
            retention_hours=plan.retention_hours,
        )


# Credits a balance opens with when no plan catalog is loaded (a database
# where load_catalog never ran, like the test database): the credit side of
# default_limits(). With a catalog, a new user gets the default plan's credits.
NO_CATALOG_STARTING_CREDITS = 100


def default_limits() -> PlanLimits:
    """Limits when no plan catalog is loaded (a fresh development database)."""
    return PlanLimits(
        plan_key=FREE_PLAN_KEY,
        runs_per_window=None,
        usage_window=Plan.Window.DAY,
        max_file_bytes=settings.UPLOAD_MAX_BYTES,
        storage_bytes=10 * settings.UPLOAD_MAX_BYTES,
        retention_hours=settings.RUN_RETENTION_HOURS,
    )


def plan_limits_for_user(*, user_id: uuid.UUID) -> PlanLimits:
    """The limits the user's entitled subscription grants, else the free plan's."""
    subscription = (
        Subscription.objects.select_related("plan")
        .filter(user_id=user_id, status__in=ENTITLED_STATUSES)
        .only(
            *(
                f"plan__{f}"
                for f in (
                    "key",
                    "runs_per_window",
                    "usage_window",
                    "max_file_bytes",
                    "storage_bytes",
                    "retention_hours",
                )
            )
        )
        .first()
    )
    if subscription is not None:
        return PlanLimits.from_plan(subscription.plan)
    free = free_plan()
    return PlanLimits.from_plan(free) if free is not None else default_limits()


def free_plan() -> Plan | None:
    """The plan of users without an entitled subscription."""
    return Plan.objects.filter(key=FREE_PLAN_KEY).first()


def default_plan() -> Plan | None:
    """The plan every new user starts on, with its credits (``billing.services.account_open``).

    The free plan: the same one that users without an entitled subscription
    fall back to, so the admin, the dashboard and the limits always agree.
    """
    return free_plan()


def plans_active() -> list[Plan]:
    """The catalog shown on the pricing page (seed 001): active plans in sort order."""
    return list(Plan.objects.filter(active=True).order_by("sort_order", "name"))


def usage_window_bounds(*, window: str, at: datetime) -> tuple[datetime, datetime]:
    """The [start, end) of the day or calendar month (UTC) containing ``at``."""
    day_start = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if window == Plan.Window.DAY:
        return day_start, day_start + timedelta(days=1)
    month_start = day_start.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    return month_start, next_month


@dataclass(frozen=True)
class ToolPricing:
    cost: int
    enabled: bool


def tool_pricing(*, tool_id: str, default_cost: int) -> ToolPricing:
    """The operator's cost and switch for a tool (AdminSettings), falling back to code defaults."""
    admin = AdminSettings.objects.filter(pk=AdminSettings.SINGLETON_ID).only("feature_costs", "disabled_tools").first()
    if admin is None:
        return ToolPricing(cost=default_cost, enabled=True)
    cost = admin.feature_costs.get(tool_id, default_cost)
    return ToolPricing(cost=int(cost), enabled=tool_id not in admin.disabled_tools)


@dataclass(frozen=True)
class RunStartContext:
    pricing: ToolPricing
    limits: PlanLimits


def run_start_context(*, user_id: uuid.UUID, tool_id: str, default_cost: int) -> RunStartContext:
    """The tool's price and switch and the user's plan limits, in one query (the hot path of a start)."""
    rows = run_query(
        "run_start_context",
        {
            "user_id": user_id,
            "tool_id": tool_id,
            "entitled_statuses": [str(status) for status in ENTITLED_STATUSES],
            "free_plan_key": FREE_PLAN_KEY,
        },
    )
    cost_override, disabled, plan_key, *limits = rows[0]
    pricing = ToolPricing(cost=default_cost if cost_override is None else cost_override, enabled=not disabled)
    if plan_key is None:
        return RunStartContext(pricing=pricing, limits=default_limits())
    runs, window, max_file_bytes, storage_bytes, retention_hours = limits
    return RunStartContext(
        pricing=pricing,
        limits=PlanLimits(
            plan_key=plan_key,
            runs_per_window=runs,
            usage_window=window,
            max_file_bytes=max_file_bytes,
            storage_bytes=storage_bytes,
            retention_hours=retention_hours,
        ),
    )
