"""Writes for credits and usage windows.

Balances change only here, always together with a ledger entry, and always
by a single conditional UPDATE: never "read, check, write" in Python, which
two workers could interleave. A CHECK constraint keeps a balance from going
negative even if a future code path forgets the condition.

``credits_charge`` and ``credits_refund`` are the building blocks of the run
lifecycle and are atomic without a savepoint: inside ``run_start`` or
``run_fail`` an error must abort the caller's whole transaction anyway, and a
savepoint would cost two round trips on the hottest path. Do not catch their
errors inside your own atomic block; let them leave it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core import serializers
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from billing.exceptions import InsufficientCredits, QuotaExceeded
from billing.models import (
    CreditBalance,
    OperationType,
)
from billing.selectors import STORAGE_METRIC, STORAGE_WINDOW
from core.sqlfiles import array_param, run_query

OPENING_GRANT_KEY = "opening-grant"


def _ledger_append_once(
    *,
    user_id: uuid.UUID,
    operation_type: str,
    credits: int,
    idempotency_key: str,
    run_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    rows = run_query(
        "credit_ledger_append_once",
        {
            "user_id": user_id,
            "operation_type": operation_type,
            "credits": credits,
            "details": json.dumps(details or {}),
            "run_id": run_id,
            "idempotency_key": idempotency_key,
        },
    )
    return bool(rows)


@transaction.atomic
def credit_balance_open(*, user_id: uuid.UUID, credits: int | None = None) -> bool:
    """Give a user their balance and starting credits, once. True if this call opened it.

    The starting credits are the default plan's (``billing.selectors.default_plan``),
    or ``NO_CATALOG_STARTING_CREDITS`` without a plan catalog. Usually
    ``account_open`` has opened the balance when the user was created; this
    covers a user created before the catalog was loaded, at their first charge.
    """
    from billing.selectors import NO_CATALOG_STARTING_CREDITS, default_plan

    if credits is None:
        plan = default_plan()
        opening = plan.credits if plan is not None else NO_CATALOG_STARTING_CREDITS
    else:
        opening = credits
    if not run_query("credit_balance_open", {"user_id": user_id, "credits": opening}):
        return False
    if opening:
        _ledger_append_once(
            user_id=user_id,
            operation_type=OperationType.GRANT,
            credits=-opening,
            idempotency_key=OPENING_GRANT_KEY,
            details={"reason": "starting credits"},
        )
    return True


@dataclass(frozen=True)
class AccountOpened:
    plan_key: str | None
    subscription_created: bool
    balance_opened: bool


def account_open(*, user_id: uuid.UUID) -> AccountOpened:
    """Start a new user on the default plan: its subscription and its credits as an opening grant.

    The rule is written once, in SQL (``sql/functions/account_open.sql``,
    with its SQLite twin), because Supabase's sign-up trigger opens accounts
    no Python code sees. Called for every user Django creates, however
    (``billing.signals``: a post_save receiver, so create_user,
    createsuperuser, the admin, the sign-up form and get_or_create all pass
    through it). Idempotent and safe when two calls race; a second call
    changes nothing. Without a plan catalog (before ``load_catalog``) nothing
    is opened, and the first charge opens the balance.
    """
    [opened] = run_query("account_open", {"user_id": user_id})
    return AccountOpened(
        plan_key=opened["plan_key"],
        subscription_created=bool(opened["subscription_created"]),
        balance_opened=bool(opened["balance_opened"]),
    )


@transaction.atomic(savepoint=False)
def credits_charge(
    *,
    user_id: uuid.UUID,
    credits: int,
    idempotency_key: str,
    run_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Take ``credits`` from the balance, or raise InsufficientCredits and change nothing.

    One statement charges and appends the ledger entry
    (``sql/queries/credits_charge.sql``). Callers make the charge itself
    idempotent (a run is created once per idempotency key, and charged in the
    same transaction).
    """
    if credits <= 0:
        raise ValueError("A charge takes a positive number of credits.")
    params = {
        "user_id": user_id,
        "credits": credits,
        "details": json.dumps(details or {}),
        "run_id": run_id,
        "idempotency_key": idempotency_key,
    }
    [outcome] = run_query("credits_charge", params)
    if not outcome["charged"]:
        # Maybe a new user without a balance yet. Open it (or wait for the
        # concurrent first charge that is opening it: the INSERT blocks until
        # that commits) and charge again whoever opened it: at READ COMMITTED
        # the new UPDATE sees the committed row.
        credit_balance_open(user_id=user_id)
        [outcome] = run_query("credits_charge", params)
    if not outcome["charged"]:
        raise InsufficientCredits(f"This needs {credits} credit(s) and the balance is lower.")
    if not outcome["appended"]:
        # Never a debit without its ledger row: abort the caller's transaction.
        raise IntegrityError(f"A charge with idempotency key {idempotency_key!r} already exists.")


@transaction.atomic(savepoint=False)
def credits_refund(
    *, user_id: uuid.UUID, credits: int, idempotency_key: str, run_id: uuid.UUID | None = None, reason: str
) -> bool:
    """Give back ``credits`` exactly once per idempotency key. True if this call refunded."""
    if credits <= 0:
        return False
    if not _ledger_append_once(
        user_id=user_id,
        operation_type=OperationType.REFUND,
        credits=-credits,
        idempotency_key=idempotency_key,
        run_id=run_id,
        details={"reason": reason},
    ):
        return False
    CreditBalance.objects.filter(user_id=user_id).update(
        credits_remaining=F("credits_remaining") + credits, updated_at=timezone.now()
    )
    return True


@transaction.atomic
def credits_adjust(
    *,
    user_id: uuid.UUID,
    delta: int,
    reason: str,
    idempotency_key: str | None = None,
    operation_type: str = OperationType.GRANT,
    actor: str = "",
) -> bool:
    """An operator's grant (delta > 0) or correction (either sign), with its ledger entry.

    A correction that would take the balance below zero raises
    InsufficientCredits and writes nothing. Returns False for a replayed key.
    """
    if delta == 0:
        raise ValueError("An adjustment must change the balance.")
    if operation_type not in (OperationType.GRANT, OperationType.CORRECTION, OperationType.PLAN_CREDITS):
        raise ValueError(f"{operation_type!r} is not an adjustment.")
    credit_balance_open(user_id=user_id)
    if not _ledger_append_once(
        user_id=user_id,
        operation_type=operation_type,
        credits=-delta,
        idempotency_key=idempotency_key or f"adjust:{uuid.uuid4()}",
        details={"reason": reason, "actor": actor},
    ):
        return False
    changed = CreditBalance.objects.filter(user_id=user_id, credits_remaining__gte=-delta).update(
        credits_remaining=F("credits_remaining") + delta, updated_at=timezone.now()
    )
    if not changed:
        raise InsufficientCredits(f"A correction of {delta} would make the balance negative.")
    return True


def usage_consume(
    *,
    user_id: uuid.UUID,
    metric: str,
    amount: int,
    limit: int | None,
    window_start: datetime,
    window_end: datetime,
) -> int:
    """Count ``amount`` of ``metric`` in the window if it fits under ``limit``; the new total.

    One statement (INSERT ... ON CONFLICT ... DO UPDATE ... WHERE): concurrent
    callers can never push the count past the limit together.
    """
    if amount < 0:
        raise ValueError("Usage only grows; use usage_release_at to give some back.")
    # The storage quota is one window for all time: it has no reset to name.
    resets_at = None if window_end >= STORAGE_WINDOW[1] else window_end
    if limit is not None and amount > limit:
        raise QuotaExceeded(f"The {metric} limit of {limit} for this period would be exceeded.", resets_at=resets_at)
    rows = run_query(
        "usage_counter_consume",
        {
            "user_id": user_id,
            "metric": metric,
            "amount": amount,
            "limit": limit,
            "window_start": window_start,
            "window_end": window_end,
        },
    )
    if not rows:
        raise QuotaExceeded(f"The {metric} limit of {limit} for this period is used up.", resets_at=resets_at)
    return int(rows[0]["count"])


def usage_release_at(*, user_id: uuid.UUID, metric: str, amount: int, at: datetime | str) -> None:
    """Give back usage counted at ``at`` to the window that counted it (a failed run's quota unit).

    ``at`` may be the text SQLite returns for a datetime column: it is passed
    through as stored.
    """
    run_query("usage_counter_release_at", {"user_id": user_id, "metric": metric, "amount": amount, "at": at})


def storage_usage_lock() -> None:
    """Lock every user's storage counter (the first step of reconcile's recount), inside the caller's transaction.

    Stores and deletes that commit after this wait for the recount and then
    apply their own change on top of the corrected figure.
    """
    run_query("storage_usage_lock", {"metric": STORAGE_METRIC, "window_start": STORAGE_WINDOW[0]})


def storage_usage_recount(*, live_bytes: Mapping[uuid.UUID | str, int], repair: bool) -> tuple[int, int]:
    """Each user's storage counter against the live bytes files counted: (how many are off, how many were set).

    ``live_bytes`` has every user with objects; a counter of a user not in it
    should be zero. Call after ``storage_usage_lock`` in the same transaction.
    """
    [recount] = run_query(
        "storage_usage_recount",
        {
            "user_ids": array_param(live_bytes.keys()),
            "bytes": array_param(live_bytes.values()),
            "metric": STORAGE_METRIC,
            "window_start": STORAGE_WINDOW[0],
            "window_end": STORAGE_WINDOW[1],
            "repair": repair,
        },
    )
    return int(recount["counters_off"]), int(recount["counters_repaired"])


@dataclass(frozen=True)
class CatalogLoaded:
    inserted: int
    kept: int
    # Users who existed before the default plan did, started on it now.
    accounts_opened: int = 0


def _catalog_row_exists(obj: models.Model) -> bool:
    """A row with the object's primary key or any of its unique values (a plan's ``key``) exists."""
    model = type(obj)
    manager = model._default_manager
    if manager.filter(pk=obj.pk).exists():
        return True
    for field in model._meta.concrete_fields:
        if field.unique and not field.primary_key:
            value = getattr(obj, field.attname)
            if value is not None and manager.filter(**{field.attname: value}).exists():
                return True
    return False


@transaction.atomic
def catalog_load(*, paths: Sequence[Path]) -> CatalogLoaded:
    """Insert the fixture rows (plans, tool costs) that do not exist yet; leave existing ones alone.

    Unlike ``loaddata``, which overwrites every row it names, this keeps an
    operator's edits (a tool's cost or switch, a plan's credits or limits),
    so ``make run`` and the compose stack can run it on every start. A row
    counts as existing by primary key or by a unique value (a plan's
    ``key``): an operator's own "free" plan is kept too. A concurrent loader
    inserting the same row first is a kept row, not an error.
    """
    inserted = kept = 0
    for path in paths:
        with open(path, encoding="utf-8") as stream:
            for item in serializers.deserialize(path.suffix.lstrip(".") or "json", stream):
                if _catalog_row_exists(item.object):
                    kept += 1
                    continue
                try:
                    with transaction.atomic():
                        item.save(force_insert=True)
                except IntegrityError:
                    kept += 1
                    continue
                inserted += 1
    return CatalogLoaded(inserted=inserted, kept=kept, accounts_opened=accounts_open_missing())


def accounts_open_missing() -> int:
    """Open the accounts of users created before there was a default plan; how many this call opened.

    Users made before the first ``load_catalog`` (Supabase sign-ups
    backfilled by the migration, an operator made by ``create_operator``)
    found no plan to start on; once the catalog is there they get the same
    start as everyone else (``account_open``, idempotent).
    """
    waiting = User.objects.filter(subscription__isnull=True).values_list("id", flat=True)
    return sum(account_open(user_id=user_id).subscription_created for user_id in waiting.iterator())
