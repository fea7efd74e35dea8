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
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from billing.exceptions import InsufficientCredits, InvalidSubscription, QuotaExceeded
from billing.models import (
    CreditBalance,
    OperationType,
    Plan,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    UsageCounter,
)
from versatools.sqlfiles import run_query

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
    """Give a user their balance and starting credits, once. True if this call opened it."""
    opening = settings.DEFAULT_STARTING_CREDITS if credits is None else credits
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

    Callers make the charge itself idempotent (a run is created once per
    idempotency key, and charged in the same transaction).
    """
    if credits <= 0:
        raise ValueError("A charge takes a positive number of credits.")
    charged = CreditBalance.objects.filter(user_id=user_id, credits_remaining__gte=credits).update(
        credits_remaining=F("credits_remaining") - credits, updated_at=timezone.now()
    )
    if not charged:
        # Maybe a new user without a balance yet. Open it (or wait for the
        # concurrent first charge that is opening it: the INSERT blocks until
        # that commits) and charge again whoever opened it: at READ COMMITTED
        # the new UPDATE sees the committed row.
        credit_balance_open(user_id=user_id)
        charged = CreditBalance.objects.filter(user_id=user_id, credits_remaining__gte=credits).update(
            credits_remaining=F("credits_remaining") - credits, updated_at=timezone.now()
        )
    if not charged:
        raise InsufficientCredits(f"This needs {credits} credit(s) and the balance is lower.")
    if not _ledger_append_once(
        user_id=user_id,
        operation_type=OperationType.TOOL_RUN,
        credits=credits,
        idempotency_key=idempotency_key,
        run_id=run_id,
        details=details,
    ):
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
        raise ValueError("Usage only grows; use usage_release to give some back.")
    if limit is not None and amount > limit:
        raise QuotaExceeded(f"The {metric} limit of {limit} for this period would be exceeded.")
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
        raise QuotaExceeded(f"The {metric} limit of {limit} for this period is used up.")
    return int(rows[0][0])


def usage_release(*, user_id: uuid.UUID, metric: str, amount: int, window_start: datetime) -> None:
    """Give back usage (e.g. storage bytes of a deleted file); never below zero."""
    UsageCounter.objects.filter(user_id=user_id, metric=metric, window_start=window_start).update(
        count=Greatest(F("count") - amount, 0), updated_at=timezone.now()
    )


@transaction.atomic
def subscription_change(
    *,
    user_id: uuid.UUID,
    plan_key: str,
    status: str,
    event_type: str,
    provider: str = "manual",
    provider_subscription_id: str | None = None,
    current_period_start: datetime | None = None,
    current_period_end: datetime | None = None,
    trial_ends_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> Subscription:
    """Create or change a user's one subscription and append its event (seeds 001 and 004)."""
    if status not in SubscriptionStatus.values:
        raise InvalidSubscription(f"{status!r} is not a subscription status.")
    plan = Plan.objects.filter(key=plan_key).first()
    if plan is None:
        raise InvalidSubscription(f"There is no plan {plan_key!r}.")
    subscription, _ = Subscription.objects.update_or_create(
        user_id=user_id,
        defaults={
            "plan": plan,
            "status": status,
            "provider": provider,
            "provider_subscription_id": provider_subscription_id,
            "current_period_start": current_period_start,
            "current_period_end": current_period_end,
            "trial_ends_at": trial_ends_at,
        },
    )
    SubscriptionEvent.objects.create(
        user_id=user_id,
        plan_key=plan.key,
        status=status,
        event_type=event_type,
        occurred_at=timezone.now(),
        metadata=metadata or {},
    )
    return subscription
