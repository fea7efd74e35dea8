"""Reads for billing: a user's effective plan limits, tool prices, usage windows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.exceptions import LedgerListInvalid
from billing.models import (
    AdminSettings,
    CreditBalance,
    CreditLedgerEntry,
    Plan,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from core.cursors import cursor_decode, cursor_encode
from core.sqlfiles import Row, run_query

# Subscriptions in these states can grant their plan's limits (a trial only
# until it ends): the rule itself is sql/queries/fragments/effective_plan.sql.
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


@dataclass(frozen=True)
class EffectivePlan:
    """The plan whose limits apply to a user now, and its name for display."""

    name: str
    limits: PlanLimits


def plan_limits_from_row(row: Row) -> PlanLimits:
    """PlanLimits from a row of the effective-plan rule (``fragments/effective_plan.sql``'s columns)."""
    return PlanLimits(
        plan_key=row["plan_key"],
        runs_per_window=row["runs_per_window"],
        usage_window=row["usage_window"],
        max_file_bytes=row["max_file_bytes"],
        storage_bytes=row["storage_bytes"],
        retention_hours=row["retention_hours"],
    )


def effective_plan(*, user_id: uuid.UUID, at: datetime | None = None) -> EffectivePlan:
    """The plan that applies to the user at ``at`` (now): the one rule every limit check and page uses.

    The rule is SQL (``sql/queries/fragments/effective_plan.sql``), shared with
    ``run_start_context`` so that a start, an upload, the dashboard and the
    API cannot disagree: an entitled subscription's plan (a trial not yet
    over, active, past_due), else the free plan, else the built-in defaults.
    """
    rows = run_query("effective_plan", {"user_id": user_id, "now": at or timezone.now()})
    if not rows:
        return EffectivePlan(name="Free", limits=default_limits())
    return EffectivePlan(name=rows[0]["plan_name"], limits=plan_limits_from_row(rows[0]))


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
    """The catalog shown on the pricing page: active plans in sort order."""
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
    """The operator's cost and switch for a tool (AdminSettings, its Feature), falling back to code defaults.

    The same rule as ``run_start_context.sql``, which the hot path uses.
    """
    from tools.models import Feature  # tools reads billing's settings; billing only asks this

    switched_off = Feature.objects.filter(tool_id=tool_id, active=False).exists()
    admin = AdminSettings.objects.filter(pk=AdminSettings.SINGLETON_ID).only("feature_costs", "disabled_tools").first()
    if admin is None:
        return ToolPricing(cost=default_cost, enabled=not switched_off)
    cost = admin.feature_costs.get(tool_id, default_cost)
    return ToolPricing(cost=int(cost), enabled=tool_id not in admin.disabled_tools and not switched_off)


@dataclass(frozen=True)
class RunStartContext:
    pricing: ToolPricing
    limits: PlanLimits


def run_start_context(*, user_id: uuid.UUID, tool_id: str, default_cost: int) -> RunStartContext:
    """The tool's price and switch and the user's plan limits, in one query (the hot path of a start)."""
    [row] = run_query("run_start_context", {"user_id": user_id, "tool_id": tool_id, "now": timezone.now()})
    cost_override = row["cost_override"]
    pricing = ToolPricing(
        cost=default_cost if cost_override is None else int(cost_override), enabled=not row["disabled"]
    )
    if row["plan_key"] is None:
        return RunStartContext(pricing=pricing, limits=default_limits())
    return RunStartContext(pricing=pricing, limits=plan_limits_from_row(row))


# --- The caller's ledger and credits by day (GET /api/ledger, GET /api/usage) -----------------


@dataclass(frozen=True)
class LedgerPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


LEDGER_COLUMNS = ("id", "operation_type", "credits", "details", "run_id", "created_at")


def ledger_page(*, user_id: uuid.UUID, limit: int = 20, cursor: str | None = None) -> LedgerPage:
    """The user's ledger, newest first (seed 001's recent usage), keyset-paginated on (created_at, id): one query.

    Served by credit_ledger_user_idx (user_id, created_at DESC).
    """
    entries = CreditLedgerEntry.objects.filter(user_id=user_id)
    if cursor:
        at, entry_id = cursor_decode(cursor, key=int, invalid=LedgerListInvalid)
        entries = entries.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=entry_id))
    rows = list(entries.order_by("-created_at", "-id").values(*LEDGER_COLUMNS)[: limit + 1])
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = cursor_encode(at=last["created_at"], key=last["id"]) if last else None
    return LedgerPage(items=rows[:limit], next_cursor=next_cursor)


def credits_by_day(*, user_id: uuid.UUID, since: datetime) -> list[dict[str, Any]]:
    """The user's ledger summed per UTC day and operation type since ``since``: one query.

    ``credits`` keeps the ledger's sign (positive spent, negative refunded or
    granted); ``entries`` counts the rows.
    """
    return list(
        CreditLedgerEntry.objects.filter(user_id=user_id, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "operation_type")
        .annotate(credits=Sum("credits"), entries=Count("id"))
        .order_by("day", "operation_type")
    )


# Not the events' metadata: it holds the provider's raw payload and the operator who acted.
EXPORT_EVENT_COLUMNS = ("plan_key", "status", "event_type", "occurred_at")
# Ledger details keys that are about the person's money; "actor" (an operator's address) is not theirs.
EXPORT_LEDGER_DETAILS = ("tool_id", "reason")


def billing_export(*, user_id: uuid.UUID) -> dict[str, Any]:
    """The person's subscription, its events, their balance and whole ledger, for their data export: four queries."""
    subscription = (
        Subscription.objects.filter(user_id=user_id)
        .values("plan__key", "plan__name", "status", "current_period_start", "current_period_end", "trial_ends_at")
        .first()
    )
    events = SubscriptionEvent.objects.filter(user_id=user_id).order_by("occurred_at", "id")
    ledger = CreditLedgerEntry.objects.filter(user_id=user_id).order_by("created_at", "id")
    balance = CreditBalance.objects.filter(user_id=user_id).values_list("credits_remaining", flat=True).first()
    return {
        "subscription": subscription,
        "subscription_events": list(events.values(*EXPORT_EVENT_COLUMNS)),
        "credits_remaining": balance,
        "credit_ledger": [
            {**entry, "details": {k: v for k, v in (entry["details"] or {}).items() if k in EXPORT_LEDGER_DETAILS}}
            for entry in ledger.values(*LEDGER_COLUMNS)
        ],
    }


def subscription_charged_by_provider(*, user_id: uuid.UUID) -> bool:
    """Whether a payment provider still bills this person (a provider's subscription in trial, active or past_due).

    Only the provider can stop those charges, so the account page asks the
    person to cancel first rather than delete an account someone still pays for.
    """
    return Subscription.objects.filter(
        user_id=user_id, provider_subscription_id__isnull=False, status__in=ENTITLED_STATUSES
    ).exists()
