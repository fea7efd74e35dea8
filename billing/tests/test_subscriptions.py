"""Subscriptions move by rules (billing.subscriptions): every move, the roll, concurrent rolls, the command."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.exceptions import IllegalSubscriptionMove, InvalidSubscription
from billing.models import CreditBalance, CreditLedgerEntry, Plan, Subscription, SubscriptionEvent
from billing.services import credit_balance_open
from billing.subscriptions import (
    LEGAL_MOVES,
    PERIOD,
    Period,
    plan_credits_key,
    subscription_change,
    subscription_move,
    subscriptions_roll,
)
from conftest import run_concurrently

STATUSES = ["trial", "active", "past_due", "cancelled", "expired"]
# The moves seed 004's lifecycle allows, spelled out here independently of LEGAL_MOVES.
EXPECTED_LEGAL = {
    ("trial", "active"),
    ("trial", "expired"),
    ("trial", "cancelled"),
    ("trial", "trial"),
    ("active", "active"),
    ("active", "past_due"),
    ("active", "cancelled"),
    ("active", "trial"),
    ("past_due", "active"),
    ("past_due", "cancelled"),
    ("past_due", "expired"),
    ("cancelled", "active"),
    ("cancelled", "expired"),
    ("expired", "active"),
    ("expired", "trial"),
}


@pytest.fixture
def pro(db):
    plan, _ = Plan.objects.update_or_create(key="pro", defaults={"name": "Pro", "credits": 100})
    return plan


def subscribe(user, plan, *, status, provider="manual", period_end=None, trial_ends_at=None):
    """Put the user's subscription straight into a state (the arrangement, not a move under test)."""
    period_end = period_end or timezone.now() + timedelta(days=10)
    subscription, _ = Subscription.objects.update_or_create(
        user=user,
        defaults={
            "plan": plan,
            "status": status,
            "provider": provider,
            "current_period_start": period_end - PERIOD,
            "current_period_end": period_end,
            "trial_ends_at": trial_ends_at,
        },
    )
    return subscription


def plan_grants(user) -> list[str]:
    return list(
        CreditLedgerEntry.objects.filter(user=user, operation_type="plan_credits")
        .order_by("id")
        .values_list("idempotency_key", flat=True)
    )


def test_the_rules_are_the_seeds_lifecycle() -> None:
    written = {(source, target) for source, targets in LEGAL_MOVES.items() for target in targets}
    assert written == EXPECTED_LEGAL


@pytest.mark.both_dialects
@pytest.mark.parametrize(("source", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_every_move_is_legal_or_refused_and_a_refused_one_changes_nothing(user, pro, source, target) -> None:
    before = subscribe(user, pro, status=source, trial_ends_at=timezone.now() + timedelta(days=3))
    options = {}
    if target == "active":
        options["period"] = Period.starting(timezone.now())
    if target == "trial":
        options["trial_ends_at"] = timezone.now() + timedelta(days=14)

    if (source, target) in EXPECTED_LEGAL:
        moved = subscription_move(user_id=user.id, to_status=target, event_type=f"to-{target}", **options)
        after = Subscription.objects.get(user=user)
        assert after.status == target == moved.subscription.status
        [event] = SubscriptionEvent.objects.filter(user=user)
        assert (event.status, event.event_type, event.plan_key) == (target, f"to-{target}", "pro")
        if target == "active":
            assert after.current_period_start == options["period"].start
    else:
        with pytest.raises(IllegalSubscriptionMove, match=f"A {source} subscription cannot become {target}"):
            subscription_move(user_id=user.id, to_status=target, event_type="refused", **options)
        after = Subscription.objects.get(user=user)
        assert (after.status, after.current_period_end, after.updated_at) == (
            before.status,
            before.current_period_end,
            before.updated_at,
        )
        assert not SubscriptionEvent.objects.filter(user=user).exists()


@pytest.mark.both_dialects
def test_active_needs_a_period_a_trial_its_end_and_a_plan_must_exist(user, pro) -> None:
    subscribe(user, pro, status="expired")

    with pytest.raises(InvalidSubscription, match="with a period"):
        subscription_move(user_id=user.id, to_status="active", event_type="x")
    with pytest.raises(InvalidSubscription, match="trial_ends_at"):
        subscription_move(user_id=user.id, to_status="trial", event_type="x")
    with pytest.raises(InvalidSubscription, match="no plan 'gold'"):
        subscription_move(
            user_id=user.id, to_status="active", plan_key="gold", period=Period.starting(timezone.now()), event_type="x"
        )

    assert Subscription.objects.get(user=user).status == "expired"
    assert not SubscriptionEvent.objects.filter(user=user).exists()


@pytest.mark.both_dialects
def test_subscription_change_refuses_what_the_rules_refuse(user, pro) -> None:
    subscribe(user, pro, status="cancelled")

    with pytest.raises(IllegalSubscriptionMove):
        subscription_change(user_id=user.id, plan_key="pro", status="past_due", event_type="payment_failed")

    assert Subscription.objects.get(user=user).status == "cancelled"


# --- The roll ---------------------------------------------------------------------------


@pytest.mark.both_dialects
def test_the_roll_moves_each_due_subscription_by_its_rule(make_user, pro, settings) -> None:
    settings.SUBSCRIPTION_GRACE_DAYS = 7
    now = timezone.now()
    ended = now - timedelta(hours=1)
    names = ["renews", "unpaid", "grace-over", "in-grace", "trial", "cancelled", "fine"]
    people = {name: make_user() for name in names}
    for person in people.values():
        credit_balance_open(user_id=person.id, credits=0)
    subscribe(people["renews"], pro, status="active", period_end=ended)
    subscribe(people["unpaid"], pro, status="active", provider="asaas", period_end=ended)
    subscribe(people["grace-over"], pro, status="past_due", period_end=now - timedelta(days=8))
    subscribe(people["in-grace"], pro, status="past_due", period_end=now - timedelta(days=6))
    subscribe(people["trial"], pro, status="trial", trial_ends_at=ended)
    subscribe(people["cancelled"], pro, status="cancelled", period_end=ended)
    subscribe(people["fine"], pro, status="active", period_end=now + timedelta(days=3))

    result = subscriptions_roll(now=now)

    status = {name: Subscription.objects.get(user=person).status for name, person in people.items()}
    assert status == {
        "renews": "active",
        "unpaid": "past_due",
        "grace-over": "expired",
        "in-grace": "past_due",
        "trial": "expired",
        "cancelled": "expired",
        "fine": "active",
    }
    renewed = Subscription.objects.get(user=people["renews"])
    assert (renewed.current_period_start, renewed.current_period_end) == (ended, ended + PERIOD)
    assert CreditBalance.objects.get(user=people["renews"]).credits_remaining == 100
    assert plan_grants(people["renews"]) == [plan_credits_key(subscription_id=renewed.id, period_start=ended)]
    assert (result.renewed, result.past_due, result.expired, result.credits_granted) == (1, 1, 3, 100)
    events = dict(SubscriptionEvent.objects.values_list("user_id", "event_type"))
    assert events[people["unpaid"].id] == "period_ended_unpaid"
    assert events[people["trial"].id] == "trial_ended"

    again = subscriptions_roll(now=now)
    assert (again.renewed, again.past_due, again.expired, again.credits_granted) == (0, 0, 0, 0)


@pytest.mark.both_dialects
def test_a_roll_that_missed_periods_grants_each_one_once(user, pro) -> None:
    credit_balance_open(user_id=user.id, credits=0)
    now = timezone.now()
    subscribe(user, pro, status="active", period_end=now - 2 * PERIOD - timedelta(days=1))

    result = subscriptions_roll(now=now)

    assert result.renewed == 3 and result.credits_granted == 300
    assert len(set(plan_grants(user))) == 3
    assert Subscription.objects.get(user=user).current_period_end > now


@pytest.mark.both_dialects
def test_the_dry_run_lists_the_moves_and_changes_nothing(user, pro) -> None:
    subscribe(user, pro, status="trial", trial_ends_at=timezone.now() - timedelta(minutes=1))
    out = io.StringIO()

    call_command("subscriptions_roll", "--dry-run", stdout=out)

    assert f"{user.id}: trial -> expired (trial_ended)" in out.getvalue()
    assert "1 move(s) due; nothing changed" in out.getvalue()
    assert Subscription.objects.get(user=user).status == "trial"
    assert not SubscriptionEvent.objects.exists()

    call_command("subscriptions_roll", stdout=out)
    assert Subscription.objects.get(user=user).status == "expired"
    assert "0 renewed (0 credits granted), 0 past due, 1 expired" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_rolls_twice_grant_each_period_exactly_once(make_user) -> None:
    pro, _ = Plan.objects.update_or_create(key="pro", defaults={"name": "Pro", "credits": 100})
    now = timezone.now()
    people = [make_user() for _ in range(20)]
    for number, person in enumerate(people):
        credit_balance_open(user_id=person.id, credits=0)
        # Some one period behind, some two: each has its own number of grants to make.
        subscribe(person, pro, status="active", period_end=now - timedelta(hours=1) - (number % 2) * PERIOD)

    for _ in range(2):
        results = run_concurrently(lambda i: subscriptions_roll(now=now), 8)
        assert not [r for r in results if isinstance(r, Exception)], results

    for number, person in enumerate(people):
        periods = 1 + number % 2
        grants = plan_grants(person)
        assert len(grants) == len(set(grants)) == periods, person
        assert CreditBalance.objects.get(user=person).credits_remaining == 100 * periods
        assert SubscriptionEvent.objects.filter(user=person, event_type="period_renewed").count() == periods
        assert Subscription.objects.get(user=person).current_period_end > now


# --- Plan changes mid-period ---------------------------------------------------------------


@pytest.fixture
def basic(db):
    plan, _ = Plan.objects.update_or_create(key="basic", defaults={"name": "Basic", "credits": 30})
    return plan


@pytest.mark.both_dialects
def test_an_upgrade_applies_now_and_grants_the_difference_once(user, pro, basic) -> None:
    from billing.subscriptions import subscription_change_plan

    credit_balance_open(user_id=user.id, credits=0)
    before = subscribe(user, basic, status="active")

    changed = subscription_change_plan(user_id=user.id, plan_key="pro")
    again = subscription_change_plan(user_id=user.id, plan_key="pro")

    assert (changed.when, changed.credits_granted) == ("now", 70)
    assert (again.when, again.credits_granted) == ("now", 0)
    after = Subscription.objects.select_related("plan").get(user=user)
    assert after.plan.key == "pro" and after.current_period_end == before.current_period_end  # same period
    assert CreditBalance.objects.get(user=user).credits_remaining == 70
    assert list(SubscriptionEvent.objects.filter(user=user).values_list("event_type", flat=True)) == ["upgraded"]


@pytest.mark.both_dialects
def test_a_downgrade_waits_for_the_period_end_and_the_roll_renews_onto_it(user, pro, basic) -> None:
    from billing.subscriptions import subscription_change_plan

    credit_balance_open(user_id=user.id, credits=0)
    subscription = subscribe(user, pro, status="active")

    changed = subscription_change_plan(user_id=user.id, plan_key="basic")

    assert changed.when == "at_period_end"
    kept = Subscription.objects.select_related("plan", "scheduled_plan").get(user=user)
    assert (kept.plan.key, kept.scheduled_plan.key) == ("pro", "basic")  # they keep what they paid for

    result = subscriptions_roll(now=subscription.current_period_end + timedelta(minutes=1))

    renewed = Subscription.objects.select_related("plan").get(user=user)
    assert (renewed.plan.key, renewed.scheduled_plan_id) == ("basic", None)
    assert result.credits_granted == 30 and CreditBalance.objects.get(user=user).credits_remaining == 30


@pytest.mark.both_dialects
def test_choosing_the_current_plan_again_cancels_a_scheduled_downgrade(user, pro, basic) -> None:
    from billing.subscriptions import subscription_change_plan

    subscribe(user, pro, status="active")
    subscription_change_plan(user_id=user.id, plan_key="basic")

    subscription_change_plan(user_id=user.id, plan_key="pro")

    assert Subscription.objects.get(user=user).scheduled_plan_id is None
    events = list(SubscriptionEvent.objects.filter(user=user).order_by("id").values_list("event_type", flat=True))
    assert events == ["downgrade_scheduled", "plan_change_cancelled"]


@pytest.mark.both_dialects
@pytest.mark.parametrize("status", ["past_due", "cancelled", "expired"])
def test_a_lapsed_subscription_changes_plan_only_by_being_reactivated(user, pro, basic, status) -> None:
    from billing.subscriptions import subscription_change_plan

    subscribe(user, pro, status=status)

    with pytest.raises(IllegalSubscriptionMove, match="reactivated"):
        subscription_change_plan(user_id=user.id, plan_key="basic")

    assert Subscription.objects.select_related("plan").get(user=user).plan.key == "pro"
    assert not SubscriptionEvent.objects.filter(user=user).exists()


# --- The history is append-only and outlives its user ---------------------------------------


def test_no_role_may_change_or_remove_an_event_and_a_deleted_users_events_stay(user, pro) -> None:
    from django.db import DatabaseError, connection, transaction

    subscribe(user, pro, status="trial", trial_ends_at=timezone.now() + timedelta(days=1))
    subscription_move(user_id=user.id, to_status="expired", event_type="trial_ended")
    event = SubscriptionEvent.objects.get(user=user)

    for statement in (
        "UPDATE subscription_events SET status = 'active' WHERE id = %s",
        "DELETE FROM subscription_events WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.id])  # as the owner, which Django connects as

    user_id = user.id
    user.delete()

    kept = SubscriptionEvent.objects.get(id=event.id)
    assert (kept.user_id, kept.status, kept.event_type) == (user_id, "expired", "trial_ended")
