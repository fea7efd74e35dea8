"""Demo data for the dashboard and the admin.

Deterministic: every id, name, timestamp and number derives from the seed and
the anchor time, so two runs with the same arguments produce the same rows.
Runs are generated inside PostgreSQL (``sql/demo/runs.sql``), a batch per
statement, which keeps a million runs fast; everything derived from them
(ledger, balances, statistics, quota windows) is computed from the generated
rows in set-based statements, so it agrees with them by construction.
"""

from __future__ import annotations

import hashlib
import io
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.services import emails_create_verified
from billing.models import Plan, Subscription, SubscriptionEvent, SubscriptionStatus
from billing.selectors import (
    ENTITLED_STATUSES,
    FREE_PLAN_KEY,
    STORAGE_METRIC,
    STORAGE_WINDOW,
    tool_pricing,
    usage_window_bounds,
)
from billing.services import catalog_load, usage_consume
from core.errors import Conflict, ServiceError
from core.sqlfiles import read_sql
from demo.samples import sample_output
from files import storage
from files.cleanup import storage_deletions_process
from files.models import ObjectRole, StorageObject
from history.models import History, RunStatus
from stats.services import stats_tool_events_roll
from tools.registry import all_tools

DEMO_EMAIL_DOMAIN = "demo.versatools.local"
RUNS_PER_STATEMENT = 50_000

# (plan key or None for a user still on the default plan they started on,
# weight); then subscription states of those who chose a plan.
PLAN_MIX: tuple[tuple[str | None, int], ...] = ((None, 45), ("free", 5), ("basic", 30), ("pro", 20))
STATUS_MIX: tuple[tuple[str, int], ...] = (
    (SubscriptionStatus.ACTIVE, 70),
    (SubscriptionStatus.TRIAL, 10),
    (SubscriptionStatus.PAST_DUE, 8),
    (SubscriptionStatus.CANCELLED, 7),
    (SubscriptionStatus.EXPIRED, 5),
)
FIRST_NAMES = ("Ana", "Bruno", "Chen", "Dara", "Emeka", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kofi", "Lena")
LAST_NAMES = ("Silva", "Okafor", "Novak", "Tanaka", "Haddad", "Larsen", "Moreau", "Kowalski", "Reyes", "Singh")


class DemoDataExists(Conflict):
    code = "demo_data_exists"


class DemoRefused(ServiceError):
    code = "demo_refused"


@dataclass(frozen=True)
class DemoResult:
    users: int
    runs: int
    files: int


def _demo_uuid(seed: int, kind: str, index: int) -> uuid.UUID:
    return uuid.UUID(bytes=hashlib.md5(f"{seed}:{kind}:{index}".encode()).digest(), version=4)


def demo_users_queryset() -> QuerySet[User]:
    return User.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}")


def demo_reset() -> int:
    """Delete the demo users and everything they own; take their share out of global statistics."""
    user_ids = list(demo_users_queryset().values_list("id", flat=True))
    if not user_ids:
        return 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(read_sql("demo/forget_statistics"), {"users": user_ids})
        # Everything by the database's ON DELETE CASCADE, without loading a
        # million runs into Python; the storage_objects_deleted trigger owes
        # each blob its delete.
        keys = list(StorageObject.objects.filter(user_id__in=user_ids).values_list("key", flat=True))
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM users WHERE id = ANY(%s)", [user_ids])
    # Delete the blobs now rather than by the queued task, so that a reseed
    # right after, which writes the same deterministic keys, finds them gone.
    storage_deletions_process(keys=keys)
    # The share's negative events into the counters now, so the empty ones can go.
    stats_tool_events_roll()
    with connection.cursor() as cursor:
        cursor.execute(read_sql("demo/forget_empty_counters"))
    return len(user_ids)


def _ensure_catalog() -> dict[str, Plan]:
    # Only what is missing: loaddata would overwrite an operator's plan and cost edits.
    catalog_load(
        paths=[settings.BASE_DIR / "fixtures" / "plans.json", settings.BASE_DIR / "fixtures" / "admin_settings.json"]
    )
    return {plan.key: plan for plan in Plan.objects.all()}


_T = TypeVar("_T")


def _weighted(rng: random.Random, options: tuple[tuple[_T, int], ...]) -> _T:
    return rng.choices([value for value, _ in options], weights=[weight for _, weight in options])[0]


def demo_seed(
    *,
    seed: int = 1,
    users: int = 50,
    runs: int = 5000,
    anchor: datetime | None = None,
    reset: bool = False,
    max_files: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Create demo users on every plan and state, their runs over 30 days, and all that follows."""
    if settings.PRODUCTION:
        raise DemoRefused("Demo data is never written with DJANGO_ENV=production.")
    if connection.vendor != "postgresql":
        raise DemoRefused("seed_demo needs PostgreSQL (it generates runs in the database).")
    if users < 1 or runs < 0:
        raise DemoRefused("--users must be at least 1 and --runs at least 0.")
    anchor = (anchor or timezone.now()).replace(minute=0, second=0, microsecond=0)
    if demo_users_queryset().exists():
        if not reset:
            raise DemoDataExists("Demo data is already there; pass --reset to replace it.")
        demo_reset()

    rng = random.Random(seed)
    plans = _ensure_catalog()
    free = plans.get(FREE_PLAN_KEY)
    user_rows, subscriptions, events = [], [], []
    chosen = 0  # users who chose a plan: the first ones cover every subscription state
    retention, window_starts, window_ends = [], [], []
    for index in range(users):
        user_id = _demo_uuid(seed, "user", index)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        joined = anchor - timedelta(days=31 + rng.randrange(300))
        user_rows.append(
            User(
                id=user_id,
                email=f"{first.lower()}.{last.lower()}.{index:05d}@{DEMO_EMAIL_DOMAIN}",
                name=f"{first} {last}",
                password="!demo-account-without-password",
                created_at=joined,
                updated_at=joined,
            )
        )
        # The first users cover every plan and every state; the rest follow the mix.
        plan_key = PLAN_MIX[index][0] if index < len(PLAN_MIX) else _weighted(rng, PLAN_MIX)
        plan = plans[plan_key] if plan_key else free
        if plan_key:
            status = STATUS_MIX[chosen][0] if chosen < len(STATUS_MIX) else _weighted(rng, STATUS_MIX)
            chosen += 1
            started = anchor - timedelta(days=rng.randrange(1, 28))
            subscriptions.append(
                Subscription(
                    id=_demo_uuid(seed, "subscription", index),
                    user_id=user_id,
                    plan=plans[plan_key],
                    status=status,
                    provider="demo",
                    current_period_start=started,
                    current_period_end=started + timedelta(days=30),
                    trial_ends_at=started + timedelta(days=14) if status == SubscriptionStatus.TRIAL else None,
                )
            )
            events.append(
                SubscriptionEvent(
                    user_id=user_id,
                    plan_key=plan_key,
                    status=status,
                    event_type="subscription.created",
                    occurred_at=started,
                    metadata={"source": "demo"},
                )
            )
            if status not in ENTITLED_STATUSES:
                plan = free
        elif free is not None:
            # The rule for every new user (billing.services.account_open), in
            # bulk: bulk_create sends no post_save. Their opening grant and
            # balance come from sql/demo/ledger.sql with the rest of the ledger.
            subscriptions.append(
                Subscription(
                    id=_demo_uuid(seed, "subscription", index),
                    user_id=user_id,
                    plan=free,
                    status=SubscriptionStatus.ACTIVE,
                )
            )
            events.append(
                SubscriptionEvent(
                    user_id=user_id,
                    plan_key=free.key,
                    status=SubscriptionStatus.ACTIVE,
                    event_type="account_opened",
                    occurred_at=joined,
                )
            )
        retention.append(plan.retention_hours if plan else settings.RUN_RETENTION_HOURS)
        window = plan.usage_window if plan else Plan.Window.DAY
        start, end = usage_window_bounds(window=window, at=anchor)
        window_starts.append(start)
        window_ends.append(end)

    tools = all_tools()
    costs = [tool_pricing(tool_id=tool.id, default_cost=tool.default_cost).cost for tool in tools]
    user_ids = [row.id for row in user_rows]
    with transaction.atomic():
        User.objects.bulk_create(user_rows, batch_size=1000)
        # Demo people are verified, as anyone who has runs must be (REQUIRE_VERIFIED_EMAIL_FOR_RUNS).
        emails_create_verified(addresses=[(row.id, row.email) for row in user_rows])
        Subscription.objects.bulk_create(subscriptions, batch_size=1000)
        SubscriptionEvent.objects.bulk_create(events, batch_size=1000)
    done = 0
    with connection.cursor() as cursor:
        while done < runs:
            upto = min(done + RUNS_PER_STATEMENT, runs)
            with transaction.atomic():
                cursor.execute(
                    read_sql("demo/runs"),
                    {
                        "seed": str(seed),
                        "first": done + 1,
                        "last": upto,
                        "anchor": anchor,
                        "users": user_ids,
                        "retention": retention,
                        "tools": [tool.id for tool in tools],
                        "tool_names": [tool.name for tool in tools],
                        "costs": costs,
                    },
                )
            done = upto
            if progress:
                progress(done, runs)
        with transaction.atomic():
            params: dict[str, Any] = {
                "users": user_ids,
                "seed": str(seed),
                "anchor": anchor,
                "window_starts": window_starts,
                "window_ends": window_ends,
            }
            cursor.execute(read_sql("demo/ledger"), params)
            cursor.execute(read_sql("demo/statistics"), params)
    files = _demo_files(seed=seed, user_ids=user_ids, limit=max_files)
    return DemoResult(users=users, runs=runs, files=files)


def _demo_files(*, seed: int, user_ids: list[uuid.UUID], limit: int) -> int:
    """Output files for the newest completed, unexpired demo runs (older ones were cleaned up).

    Rows first, committed, then the blobs: a crash in between leaves rows
    without blobs, which reconcile repairs, never a blob nobody knows about.
    """
    if limit <= 0:
        return 0
    runs = list(
        History.objects.filter(user_id__in=user_ids, status=RunStatus.COMPLETED, expires_at__gt=timezone.now())
        .order_by("-created_at", "-id")
        .values_list("id", "user_id", "tool_id", "output_file_name", "created_at", "expires_at")[:limit]
    )
    backend = storage.default_backend()
    provider, bucket = storage.describe(backend)
    objects, blobs, run_keys = [], [], []
    for run_id, user_id, tool_id, name, created_at, expires_at in runs:
        content_type, ext, content = sample_output(tool_id)
        object_id = uuid.UUID(bytes=hashlib.md5(f"{seed}:file:{run_id}".encode()).digest(), version=4)
        key = storage.build_key(user_id=user_id, entity="runs", ext=ext, at=created_at, object_id=object_id)
        objects.append(
            StorageObject(
                id=object_id,
                user_id=user_id,
                run_id=run_id,
                role=ObjectRole.OUTPUT,
                provider=provider,
                bucket=bucket,
                key=key,
                original_name=name,
                content_type=content_type,
                size=len(content),
                expires_at=expires_at,
            )
        )
        blobs.append((key, content_type, content))
        run_keys.append((run_id, key))
    sizes: dict[uuid.UUID, int] = {}
    for obj in objects:
        sizes[obj.user_id] = sizes.get(obj.user_id, 0) + obj.size
    with transaction.atomic():
        StorageObject.objects.bulk_create(objects, batch_size=1000)
        for run_id, key in run_keys:
            History.objects.filter(id=run_id).update(file_key=key)
        for user_id, size in sizes.items():
            usage_consume(
                user_id=user_id,
                metric=STORAGE_METRIC,
                amount=size,
                limit=None,
                window_start=STORAGE_WINDOW[0],
                window_end=STORAGE_WINDOW[1],
            )
    for key, content_type, content in blobs:
        storage.write(backend=backend, key=key, content=io.BytesIO(content), content_type=content_type)
    return len(objects)
