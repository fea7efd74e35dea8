"""Reads for the operator dashboard (the admin's /admin/operator-dashboard/).

Everything comes from the counters (``stats``), which are small whatever the
size of ``history``, or from aggregates over indexed ranges: seven queries in
all, none a scan of the run table or of the whole ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.models import CreditLedgerEntry, Subscription
from core.sqlfiles import run_query
from files.models import StorageObject
from history.models import History
from stats.models import UserStats
from stats.selectors import tool_statistics_all

OPERATOR_DAYS = 30
TOP_USERS = 10


@dataclass(frozen=True)
class DailySeries:
    days: list[date]
    by_tool: dict[str, list[int]]


@dataclass(frozen=True)
class ToolMix:
    tool_id: str
    runs: int
    completed: int
    failed: int

    @property
    def in_progress(self) -> int:
        return max(0, self.runs - self.completed - self.failed)

    @property
    def failure_rate(self) -> float:
        finished = self.completed + self.failed
        return self.failed / finished if finished else 0.0


@dataclass(frozen=True)
class ToolStorage:
    tool_id: str  # "(no run)" for uploads not attached to a run
    objects: int
    bytes: int


@dataclass(frozen=True)
class ExpiringSoon:
    runs_next_24h: int
    runs_overdue: int  # expired, waiting for cleanup
    objects_next_24h: int
    bytes_next_24h: int
    objects_overdue: int


@dataclass(frozen=True)
class TopUser:
    email: str
    total_used: int
    last_used_at: datetime | None


def runs_per_day_per_tool(*, days: int = OPERATOR_DAYS, today: date | None = None) -> DailySeries:
    """Runs started per day and tool, oldest day first (daily_tool_usage's unique (day, tool) index, plus the tail)."""
    today = today or timezone.now().date()
    since = today - timedelta(days=days - 1)
    by_tool: dict[str, list[int]] = {}
    rows = run_query("daily_tool_usage_current", {"since": since, "until": today})
    for row in sorted(rows, key=lambda row: row["tool_id"]):
        day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(row["day"])  # SQLite: text
        by_tool.setdefault(row["tool_id"], [0] * days)[(day - since).days] = int(row["runs"])
    return DailySeries(days=[since + timedelta(days=i) for i in range(days)], by_tool=by_tool)


def status_mix_per_tool() -> list[ToolMix]:
    """All-time outcome per tool, from the counters (history rows expire, these stay)."""
    rows = sorted(tool_statistics_all(), key=lambda row: (-row["runs"], row["tool_id"]))
    return [
        ToolMix(tool_id=row["tool_id"], runs=row["runs"], completed=row["completed"], failed=row["failed"])
        for row in rows
    ]


def storage_per_tool() -> list[ToolStorage]:
    """Stored objects summed by their run's tool: one aggregate query."""
    rows = (
        StorageObject.objects.values("run__tool_id")
        .annotate(object_count=Count("id"), total=Sum("size"))
        .order_by("-total")
    )
    return [
        ToolStorage(tool_id=row["run__tool_id"] or "(no run)", objects=row["object_count"], bytes=row["total"] or 0)
        for row in rows
    ]


def expiring_soon(*, now: datetime | None = None, hours: int = 24) -> ExpiringSoon:
    """What cleanup will take in the next hours, and what it still owes (two index ranges on expires_at)."""
    now = now or timezone.now()
    until = now + timedelta(hours=hours)
    runs = History.objects.filter(expires_at__lte=until).aggregate(
        soon=Count("id", filter=Q(expires_at__gt=now)), overdue=Count("id", filter=Q(expires_at__lte=now))
    )
    objects = StorageObject.objects.filter(expires_at__lte=until).aggregate(
        soon=Count("id", filter=Q(expires_at__gt=now)),
        soon_bytes=Sum("size", filter=Q(expires_at__gt=now)),
        overdue=Count("id", filter=Q(expires_at__lte=now)),
    )
    return ExpiringSoon(
        runs_next_24h=runs["soon"],
        runs_overdue=runs["overdue"],
        objects_next_24h=objects["soon"],
        bytes_next_24h=objects["soon_bytes"] or 0,
        objects_overdue=objects["overdue"],
    )


def top_users(*, limit: int = TOP_USERS) -> list[TopUser]:
    """The heaviest users by runs started, all time (user_stats: one row per user)."""
    rows = UserStats.objects.select_related("user").only("total_used", "last_used_at", "user__email")
    return [
        TopUser(email=row.user.email, total_used=row.total_used, last_used_at=row.last_used_at)
        for row in rows.filter(total_used__gt=0).order_by("-total_used", "user_id")[:limit]
    ]


@dataclass(frozen=True)
class CreditsDay:
    day: date
    spent: int  # charged for runs, net of refunds
    refunded: int
    granted: int  # grants, plan credits and corrections, net


def credits_per_day(*, days: int = OPERATOR_DAYS, today: date | None = None) -> list[CreditsDay]:
    """Credits spent, refunded and granted per UTC day, oldest first: one aggregate over an index range.

    The ledger's ``credit_ledger_created_idx`` keeps it a range of the last
    ``days`` days, not a scan of the whole (ever-growing) ledger.
    """
    today = today or timezone.now().astimezone(UTC).date()
    since = today - timedelta(days=days - 1)
    sums: dict[tuple[date, str], int] = {}
    rows = (
        CreditLedgerEntry.objects.filter(created_at__gte=datetime.combine(since, datetime.min.time(), UTC))
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values_list("day", "operation_type")
        .annotate(total=Sum("credits"))
    )
    for day, operation_type, total in rows:
        sums[(day, operation_type)] = total
    series = []
    for offset in range(days):
        day = since + timedelta(days=offset)
        refunded = -sums.get((day, "refund"), 0)
        granted = -sum(sums.get((day, kind), 0) for kind in ("grant", "plan_credits", "correction"))
        series.append(
            CreditsDay(day=day, spent=sums.get((day, "tool_run"), 0) - refunded, refunded=refunded, granted=granted)
        )
    return series


@dataclass(frozen=True)
class PlanStatusCount:
    plan: str
    status: str
    subscriptions: int
    # What these subscriptions bring in a month at the plan's list price
    # (active and past_due only: trials, cancelled and expired pay nothing).
    monthly_cents: int
    currency: str


PAYING_STATUSES = ("active", "past_due")


def subscriptions_per_plan_and_status() -> list[PlanStatusCount]:
    """Subscriptions counted by plan and status (one row per user: small), with their monthly list revenue."""
    rows = (
        Subscription.objects.values("plan__name", "plan__price_monthly_cents", "plan__currency", "status")
        .annotate(subscriptions=Count("id"))
        .order_by("plan__sort_order", "plan__name", "status")
    )
    return [
        PlanStatusCount(
            plan=row["plan__name"],
            status=row["status"],
            subscriptions=row["subscriptions"],
            monthly_cents=(row["plan__price_monthly_cents"] or 0) * row["subscriptions"]
            if row["status"] in PAYING_STATUSES
            else 0,
            currency=row["plan__currency"] or "",
        )
        for row in rows
    ]
