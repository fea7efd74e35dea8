"""Subscriptions move by rules: the legal moves written once, each move one conditional UPDATE and its event.

Seed 004's statuses, and what may follow each (``LEGAL_MOVES``):

    trial     -> active | expired | cancelled | trial (the trial extended)
    active    -> active (a new period, or a change of plan) | past_due | cancelled | trial
    past_due  -> active | cancelled | expired
    cancelled -> active (as a new period only) | expired
    expired   -> active (as a new period only) | trial

A move is one ``UPDATE ... WHERE user_id = ? AND status IN (<the statuses it
may come from>)`` (and, for the period roll, the period it expects), so of
two writers racing on one subscription the second finds nothing to move and
is told so; an illegal move raises IllegalSubscriptionMove (409) and changes
nothing. The event row (``subscription_events``) is written in the same
transaction. Every move into ``active`` names its period: an active
subscription always has one, which is what the roll (``subscriptions_roll``)
renews, granting the plan's credits once per period (the ledger's
idempotency key names the subscription and the period's start).

Lock order: the subscription row, then the user's balance (as the run
lifecycle: the user's rows, never a shared row while holding them).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.exceptions import IllegalSubscriptionMove, InvalidSubscription
from billing.models import OperationType, Plan, Subscription, SubscriptionEvent, SubscriptionStatus
from billing.services import credits_adjust
from core.retry import retry_on_lock_conflict

logger = logging.getLogger(__name__)

TRIAL = SubscriptionStatus.TRIAL
ACTIVE = SubscriptionStatus.ACTIVE
PAST_DUE = SubscriptionStatus.PAST_DUE
CANCELLED = SubscriptionStatus.CANCELLED
EXPIRED = SubscriptionStatus.EXPIRED

# Status -> the statuses it may move to. The one definition: the moves below,
# the roll and the tests all read it.
LEGAL_MOVES: dict[str, frozenset[str]] = {
    TRIAL: frozenset({ACTIVE, EXPIRED, CANCELLED, TRIAL}),
    ACTIVE: frozenset({ACTIVE, PAST_DUE, CANCELLED, TRIAL}),
    PAST_DUE: frozenset({ACTIVE, CANCELLED, EXPIRED}),
    CANCELLED: frozenset({ACTIVE, EXPIRED}),
    EXPIRED: frozenset({ACTIVE, TRIAL}),
}
# Providers whose periods the app renews itself: nobody pays through them
# (operators grant the plan). Any other provider's period is renewed by its
# payment event; until then an ended period makes the subscription past_due.
SELF_RENEWING_PROVIDERS = frozenset({"manual"})
PERIOD = timedelta(days=30)


def may_move(from_status: str, to_status: str) -> bool:
    return to_status in LEGAL_MOVES.get(from_status, frozenset())


def sources_of(to_status: str) -> list[str]:
    """The statuses a subscription may move to ``to_status`` from."""
    return sorted(status for status, targets in LEGAL_MOVES.items() if to_status in targets)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @classmethod
    def starting(cls, at: datetime) -> Period:
        return cls(start=at, end=at + PERIOD)


def plan_credits_key(*, subscription_id: uuid.UUID, period_start: datetime) -> str:
    """The ledger's idempotency key of a period's plan credits: one grant per subscription and period."""
    return f"plan-credits:{subscription_id}:{period_start.astimezone(UTC):%Y-%m-%dT%H:%M:%S}"


@dataclass(frozen=True)
class Moved:
    subscription: Subscription
    credits_granted: int  # the plan's credits for the new period; 0 if none or already granted


@retry_on_lock_conflict
@transaction.atomic
def subscription_move(
    *,
    user_id: uuid.UUID,
    to_status: str,
    event_type: str,
    plan_key: str | None = None,
    period: Period | None = None,
    trial_ends_at: datetime | None = None,
    expect_period_end: datetime | None = None,
    grant_plan_credits: bool = False,
    metadata: dict[str, Any] | None = None,
    at: datetime | None = None,
    provider_event_id: str | None = None,
    only_from: Collection[str] | None = None,
) -> Moved:
    """Move the user's subscription to ``to_status`` if the rules allow it from where it is.

    ``plan_key``: the plan it is on afterwards (unchanged if None).
    ``period``: required for a move into active (a new period starts).
    ``trial_ends_at``: required for a move into trial.
    ``expect_period_end``: the move applies only while the current period
    ends then (the roll's guard: a period renewed by a concurrent roll is not
    renewed twice). ``only_from``: narrows the legal sources (an operator's
    "reactivate" does not renew an active one). ``grant_plan_credits``: grant the plan's credits for the
    new period, once (a replay of the same period grants nothing).
    Raises IllegalSubscriptionMove (409) and changes nothing when the move is
    not legal from the current status (or the expected period is gone),
    InvalidSubscription (400) for an unknown plan or a missing period.
    """
    at = at or timezone.now()
    if to_status not in LEGAL_MOVES:
        raise InvalidSubscription(f"{to_status!r} is not a subscription status.")
    if to_status == ACTIVE and period is None:
        raise InvalidSubscription("A subscription becomes active with a period: say when it starts and ends.")
    if to_status == TRIAL and trial_ends_at is None:
        raise InvalidSubscription("A trial needs its end (trial_ends_at).")
    changes: dict[str, Any] = {"status": to_status, "updated_at": at}
    plan = None
    if plan_key is not None:
        plan = Plan.objects.filter(key=plan_key).first()
        if plan is None:
            raise InvalidSubscription(f"There is no plan {plan_key!r}.")
        changes["plan"] = plan
        changes["scheduled_plan"] = None  # whatever was scheduled, this is the plan now
    if period is not None:
        changes.update(current_period_start=period.start, current_period_end=period.end)
    if trial_ends_at is not None:
        changes["trial_ends_at"] = trial_ends_at
    sources = [status for status in sources_of(to_status) if only_from is None or status in only_from]
    movable = Subscription.objects.filter(user_id=user_id, status__in=sources)
    if expect_period_end is not None:
        movable = movable.filter(current_period_end=expect_period_end)
    if not movable.update(**changes):
        _refuse(user_id=user_id, to_status=to_status, expect_period_end=expect_period_end)
    subscription = Subscription.objects.select_related("plan").get(user_id=user_id)
    SubscriptionEvent.objects.create(
        user_id=user_id,
        plan_key=subscription.plan.key,
        status=to_status,
        event_type=event_type,
        occurred_at=at,
        metadata={
            **(metadata or {}),
            **({"period_start": period.start.isoformat(), "period_end": period.end.isoformat()} if period else {}),
        },
        provider_event_id=provider_event_id,
    )
    granted = 0
    if grant_plan_credits and period is not None and subscription.plan.credits > 0:
        granted = _period_credits_grant(subscription=subscription, period=period)
    logger.info(
        "subscription moved user_id=%s to=%s plan=%s event=%s", user_id, to_status, subscription.plan.key, event_type
    )
    return Moved(subscription=subscription, credits_granted=granted)


def _period_credits_grant(*, subscription: Subscription, period: Period) -> int:
    """The plan's credits for ``period``, once: the ledger's key names the subscription and the period."""
    plan = subscription.plan
    granted = credits_adjust(
        user_id=subscription.user_id,
        delta=plan.credits,
        reason=f"{plan.name} credits for the period from {period.start:%Y-%m-%d}",
        idempotency_key=plan_credits_key(subscription_id=subscription.id, period_start=period.start),
        operation_type=OperationType.PLAN_CREDITS,
        actor="subscriptions",
    )
    return plan.credits if granted else 0


def _refuse(*, user_id: uuid.UUID, to_status: str, expect_period_end: datetime | None) -> NoReturn:
    current = Subscription.objects.filter(user_id=user_id).values("status", "current_period_end").first()
    if current is None:
        raise InvalidSubscription("The user has no subscription.")
    if expect_period_end is not None and current["current_period_end"] != expect_period_end:
        raise IllegalSubscriptionMove("The subscription's period has changed since it was read.")
    raise IllegalSubscriptionMove(f"A {current['status']} subscription cannot become {to_status}.")


def subscription_change(
    *,
    user_id: uuid.UUID,
    plan_key: str,
    status: str,
    event_type: str,
    provider: str = "manual",
    provider_subscription_id: str | None = None,
    period: Period | None = None,
    trial_ends_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> Subscription:
    """Put the user on ``plan_key`` in ``status``: their first subscription, or a legal move of theirs.

    For operators, fixtures and payment events that name where a
    subscription should be: an active one gets a new period starting now
    (unless ``period`` says otherwise), a trial ends after
    TRIAL_DAYS (unless ``trial_ends_at``). A move the rules do not allow
    raises IllegalSubscriptionMove and changes nothing.
    """
    now = timezone.now()
    if status == ACTIVE and period is None:
        period = Period.starting(now)
    if status == TRIAL and trial_ends_at is None:
        trial_ends_at = now + timedelta(days=settings.TRIAL_DAYS)
    with transaction.atomic():
        if _subscription_open(
            user_id=user_id,
            plan_key=plan_key,
            status=status,
            event_type=event_type,
            provider=provider,
            provider_subscription_id=provider_subscription_id,
            period=period,
            trial_ends_at=trial_ends_at,
            metadata=metadata,
        ):
            return Subscription.objects.select_related("plan").get(user_id=user_id)
        if provider != "manual" or provider_subscription_id is not None:
            Subscription.objects.filter(user_id=user_id).update(
                provider=provider, provider_subscription_id=provider_subscription_id
            )
        return subscription_move(
            user_id=user_id,
            to_status=status,
            event_type=event_type,
            plan_key=plan_key,
            period=period,
            trial_ends_at=trial_ends_at,
            metadata=metadata,
            at=now,
        ).subscription


def _subscription_open(
    *,
    user_id: uuid.UUID,
    plan_key: str,
    status: str,
    event_type: str,
    provider: str,
    provider_subscription_id: str | None,
    period: Period | None,
    trial_ends_at: datetime | None,
    metadata: dict[str, Any] | None,
) -> bool:
    """A user's first subscription (one per user), with its event; False if they have one already."""
    if Subscription.objects.filter(user_id=user_id).exists():
        return False
    if status not in (ACTIVE, TRIAL):
        raise InvalidSubscription(f"A subscription starts active or in a trial, not {status}.")
    plan = Plan.objects.filter(key=plan_key).first()
    if plan is None:
        raise InvalidSubscription(f"There is no plan {plan_key!r}.")
    _, created = Subscription.objects.get_or_create(
        user_id=user_id,
        defaults={
            "plan": plan,
            "status": status,
            "provider": provider,
            "provider_subscription_id": provider_subscription_id,
            "current_period_start": period.start if period else None,
            "current_period_end": period.end if period else None,
            "trial_ends_at": trial_ends_at,
        },
    )
    if created:
        SubscriptionEvent.objects.create(
            user_id=user_id,
            plan_key=plan.key,
            status=status,
            event_type=event_type,
            occurred_at=timezone.now(),
            metadata=metadata or {},
        )
    return created


@dataclass(frozen=True)
class PlanChanged:
    subscription: Subscription
    when: str  # "now" or "at_period_end"
    credits_granted: int


@retry_on_lock_conflict
@transaction.atomic
def subscription_change_plan(
    *,
    user_id: uuid.UUID,
    plan_key: str,
    actor: str = "",
    provider_event_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> PlanChanged:
    """Move an active or trial subscription to another plan, by the one rule for mid-period changes.

    - An upgrade (a plan with more credits per period) applies now, in the
      current period, and grants the difference in credits once (ledger key
      ``plan-upgrade:<subscription>:<period start>:<plan>``).
    - A downgrade (fewer or equal credits) waits for the period's end: the
      plan is scheduled, the user keeps what they paid for, and the roll
      renews onto it. Choosing the current plan again cancels a scheduled one.
    - A trial changes plan now, without credits (a trial grants none).

    Past_due, cancelled and expired subscriptions change plan only by being
    reactivated (a move into active names its plan): IllegalSubscriptionMove.
    """
    plan = Plan.objects.filter(key=plan_key).first()
    if plan is None:
        raise InvalidSubscription(f"There is no plan {plan_key!r}.")
    subscription = Subscription.objects.select_for_update().select_related("plan").filter(user_id=user_id).first()
    if subscription is None:
        raise InvalidSubscription("The user has no subscription.")
    current = subscription.plan
    now = timezone.now()
    if subscription.status == TRIAL:
        moved = subscription_move(
            user_id=user_id,
            to_status=TRIAL,
            event_type="plan_changed",
            plan_key=plan.key,
            trial_ends_at=subscription.trial_ends_at,
            metadata={**(metadata or {}), "from_plan": current.key, "actor": actor},
            at=now,
            provider_event_id=provider_event_id,
        )
        return PlanChanged(subscription=moved.subscription, when="now", credits_granted=0)
    if subscription.status != ACTIVE or subscription.current_period_end is None:
        raise IllegalSubscriptionMove(f"A {subscription.status} subscription changes plan by being reactivated.")
    if plan.id == current.id and subscription.scheduled_plan_id is None and provider_event_id is None:
        return PlanChanged(subscription=subscription, when="now", credits_granted=0)  # already on it
    if plan.credits <= current.credits:
        Subscription.objects.filter(id=subscription.id).update(
            scheduled_plan=None if plan.id == current.id else plan, updated_at=now
        )
        SubscriptionEvent.objects.create(
            user_id=user_id,
            plan_key=current.key,
            status=subscription.status,
            event_type="plan_change_cancelled" if plan.id == current.id else "downgrade_scheduled",
            occurred_at=now,
            metadata={
                **(metadata or {}),
                "to_plan": plan.key,
                "at": subscription.current_period_end.isoformat(),
                "actor": actor,
            },
            provider_event_id=provider_event_id,
        )
        subscription.refresh_from_db()
        return PlanChanged(subscription=subscription, when="at_period_end", credits_granted=0)
    period = Period(start=subscription.current_period_start or now, end=subscription.current_period_end)
    moved = subscription_move(
        user_id=user_id,
        to_status=ACTIVE,
        event_type="upgraded",
        plan_key=plan.key,
        period=period,
        expect_period_end=period.end,
        metadata={**(metadata or {}), "from_plan": current.key, "actor": actor},
        at=now,
        provider_event_id=provider_event_id,
    )
    difference = plan.credits - current.credits
    granted = credits_adjust(
        user_id=user_id,
        delta=difference,
        reason=f"Upgrade from {current.name} to {plan.name}",
        idempotency_key=f"plan-upgrade:{subscription.id}:{period.start:%Y-%m-%dT%H:%M:%S}:{plan.key}",
        operation_type=OperationType.PLAN_CREDITS,
        actor=actor or "subscriptions",
    )
    return PlanChanged(subscription=moved.subscription, when="now", credits_granted=difference if granted else 0)


# --- What operators do (the admin's actions) ----------------------------------------------


def subscription_extend_trial(*, user_id: uuid.UUID, days: int, actor: str = "") -> Moved:
    """A trial ``days`` longer (from its end, or from now if it has ended): trial -> trial."""
    if days < 1:
        raise InvalidSubscription("A trial is extended by at least one day.")
    now = timezone.now()
    current = Subscription.objects.filter(user_id=user_id).values_list("trial_ends_at", flat=True).first()
    base = max(current, now) if current else now
    return subscription_move(
        user_id=user_id,
        to_status=TRIAL,
        event_type="trial_extended",
        trial_ends_at=base + timedelta(days=days),
        metadata={"days": days, "actor": actor},
        at=now,
    )


def subscription_cancel(*, user_id: uuid.UUID, actor: str = "") -> Moved:
    """Cancel: the plan is kept until the period ends, then the roll expires it."""
    return subscription_move(user_id=user_id, to_status=CANCELLED, event_type="cancelled", metadata={"actor": actor})


def subscription_reactivate(*, user_id: uuid.UUID, plan_key: str | None = None, actor: str = "") -> Moved:
    """Active again from now, for a new period (on ``plan_key``, or the plan it had), with that period's credits."""
    now = timezone.now()
    return subscription_move(
        user_id=user_id,
        to_status=ACTIVE,
        event_type="reactivated",
        plan_key=plan_key,
        period=Period.starting(now),
        grant_plan_credits=True,
        metadata={"actor": actor},
        at=now,
        only_from=(TRIAL, PAST_DUE, CANCELLED, EXPIRED),
    )


# --- The roll: trials end, periods renew or lapse ------------------------------------


@dataclass
class RollResult:
    renewed: int = 0  # a new period started, the plan's credits granted once
    past_due: int = 0  # a provider's period ended unpaid
    expired: int = 0  # trials ended, cancelled periods ended, past_due beyond the grace
    credits_granted: int = 0
    skipped: int = 0  # moved by someone else between the listing and the move
    due: list[dict[str, Any]] = field(default_factory=list)  # --dry-run: what would move

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.renewed} renewed ({self.credits_granted} credits granted), {self.past_due} past due, "
            f"{self.expired} expired, {self.skipped} moved meanwhile"
        )


@dataclass(frozen=True)
class _Due:
    user_id: uuid.UUID
    status: str
    provider: str
    period_end: datetime | None
    trial_ends_at: datetime | None
    scheduled_plan_key: str | None = None


def _due_moves(due: _Due, *, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """What the roll does to one due subscription: the moves in order (a renewal may need several periods)."""
    if due.status == TRIAL:
        return [(EXPIRED, {"event_type": "trial_ended"})]
    if due.status == CANCELLED:
        return [(EXPIRED, {"event_type": "cancelled_period_ended", "expect_period_end": due.period_end})]
    if due.status == PAST_DUE:
        return [(EXPIRED, {"event_type": "payment_grace_ended", "expect_period_end": due.period_end})]
    assert due.status == ACTIVE and due.period_end is not None
    if due.provider not in SELF_RENEWING_PROVIDERS:
        return [(PAST_DUE, {"event_type": "period_ended_unpaid", "expect_period_end": due.period_end})]
    # One renewal per period that has ended, each granted once: a roll that
    # did not run for two periods catches up period by period. A downgrade
    # scheduled for the period's end takes effect with the first renewal.
    moves: list[tuple[str, dict[str, Any]]] = []
    end = due.period_end
    while end <= now:
        period = Period.starting(end)
        moves.append(
            (
                ACTIVE,
                {
                    "event_type": "period_renewed",
                    "period": period,
                    "plan_key": due.scheduled_plan_key,
                    "expect_period_end": end,
                    "grant_plan_credits": True,
                },
            )
        )
        end = period.end
    return moves


def _due_subscriptions(*, now: datetime, grace: timedelta, limit: int) -> list[_Due]:
    due = Subscription.objects.filter(
        Q(status=TRIAL, trial_ends_at__lte=now)
        | Q(status__in=[ACTIVE, CANCELLED], current_period_end__lte=now)
        | Q(status=PAST_DUE, current_period_end__lte=now - grace)
    ).order_by("current_period_end", "user_id")
    return [
        _Due(*row)
        for row in due.values_list(
            "user_id", "status", "provider", "current_period_end", "trial_ends_at", "scheduled_plan__key"
        )[:limit]
    ]


def subscriptions_roll(*, now: datetime | None = None, dry_run: bool = False, limit: int = 10_000) -> RollResult:
    """Move every due subscription on: the beat task and ``manage.py subscriptions_roll``.

    Trials past their end expire; an active period that ended renews (the
    app's own subscriptions, with the plan's credits for the new period) or,
    for a payment provider's, goes past_due until its payment event; past_due
    beyond ``SUBSCRIPTION_GRACE_DAYS`` expires; a cancelled one expires when
    its paid period ends. Each move is its own transaction and conditional
    on the state it was read in, so concurrent or repeated rolls move each
    subscription once and grant each period once.
    """
    now = now or timezone.now()
    grace = timedelta(days=settings.SUBSCRIPTION_GRACE_DAYS)
    result = RollResult()
    for due in _due_subscriptions(now=now, grace=grace, limit=limit):
        moves = _due_moves(due, now=now)
        if dry_run:
            result.due.extend(
                {"user_id": str(due.user_id), "from": due.status, "to": to_status, "event": options["event_type"]}
                for to_status, options in moves
            )
            continue
        _apply(due, moves, now=now, result=result)
    if not dry_run:
        logger.info("Subscriptions rolled: %s", result.summary())
    return result


def _apply(due: _Due, moves: Iterable[tuple[str, dict[str, Any]]], *, now: datetime, result: RollResult) -> None:
    for to_status, options in moves:
        try:
            moved = subscription_move(user_id=due.user_id, to_status=to_status, at=now, **options)
        except IllegalSubscriptionMove:
            result.skipped += 1  # a concurrent roll, a payment or an operator moved it first
            return
        if to_status == ACTIVE:
            result.renewed += 1
            result.credits_granted += moved.credits_granted
        elif to_status == PAST_DUE:
            result.past_due += 1
        else:
            result.expired += 1
