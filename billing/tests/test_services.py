from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from billing.exceptions import InsufficientCredits, QuotaExceeded
from billing.models import CreditBalance, CreditLedgerEntry, Plan, UsageCounter
from billing.selectors import STORAGE_METRIC, STORAGE_WINDOW, usage_window_bounds
from billing.services import (
    credit_balance_open,
    credits_adjust,
    credits_charge,
    storage_usage_lock,
    storage_usage_recount,
    usage_consume,
    usage_release_at,
)

pytestmark = pytest.mark.django_db

DAY = (datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))


def balance(user) -> int:
    return CreditBalance.objects.get(user=user).credits_remaining


@pytest.mark.both_dialects
def test_opening_a_balance_grants_the_default_plans_credits_once(user) -> None:
    # The user predates the catalog (no account opened); the default plan came later.
    Plan.objects.create(key="free", name="Free", credits=25)

    assert credit_balance_open(user_id=user.id) is True
    assert credit_balance_open(user_id=user.id) is False

    assert balance(user) == 25
    assert list(CreditLedgerEntry.objects.filter(user=user).values_list("credits", flat=True)) == [-25]


@pytest.mark.both_dialects
def test_operator_grant_writes_a_ledger_row_and_a_replay_changes_nothing(user) -> None:
    credit_balance_open(user_id=user.id, credits=5)

    assert credits_adjust(user_id=user.id, delta=20, reason="support ticket 12", idempotency_key="t12", actor="ops")
    assert not credits_adjust(user_id=user.id, delta=20, reason="support ticket 12", idempotency_key="t12")

    assert balance(user) == 25
    entry = CreditLedgerEntry.objects.get(user=user, idempotency_key="t12")
    assert (entry.operation_type, entry.credits, entry.details["actor"]) == ("grant", -20, "ops")


@pytest.mark.both_dialects
def test_a_correction_below_zero_is_refused_and_writes_nothing(user) -> None:
    credit_balance_open(user_id=user.id, credits=5)

    with pytest.raises(InsufficientCredits):
        credits_adjust(user_id=user.id, delta=-6, reason="typo", operation_type="correction")

    assert balance(user) == 5
    assert CreditLedgerEntry.objects.filter(user=user).count() == 1


@pytest.mark.both_dialects
def test_charging_more_than_the_balance_is_refused(user) -> None:
    credit_balance_open(user_id=user.id, credits=3)

    # Callers run a charge inside their own transaction (see run_start).
    with pytest.raises(InsufficientCredits), transaction.atomic():
        credits_charge(user_id=user.id, credits=4, idempotency_key="c1")

    assert balance(user) == 3


@pytest.mark.both_dialects
def test_the_database_refuses_a_negative_balance_even_from_raw_sql(user) -> None:
    credit_balance_open(user_id=user.id, credits=3)

    with (
        pytest.raises(IntegrityError, match="credit_balances_non_negative"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # hex: a raw cursor on SQLite binds no UUID, and PostgreSQL reads hex as one
        cursor.execute("UPDATE credit_balances SET credits_remaining = -1 WHERE user_id = %s", [user.id.hex])


@pytest.mark.both_dialects
def test_usage_counter_counts_up_to_the_limit_and_no_further(user) -> None:
    assert usage_consume(user_id=user.id, metric="runs", amount=2, limit=3, window_start=DAY[0], window_end=DAY[1]) == 2
    with pytest.raises(QuotaExceeded):
        usage_consume(user_id=user.id, metric="runs", amount=2, limit=3, window_start=DAY[0], window_end=DAY[1])
    assert usage_consume(user_id=user.id, metric="runs", amount=1, limit=3, window_start=DAY[0], window_end=DAY[1]) == 3

    assert UsageCounter.objects.get(user=user, metric="runs").count == 3


@pytest.mark.both_dialects
def test_a_new_window_is_a_new_row_and_old_windows_are_kept(user) -> None:
    tomorrow = usage_window_bounds(window="day", at=DAY[1])
    usage_consume(user_id=user.id, metric="runs", amount=1, limit=1, window_start=DAY[0], window_end=DAY[1])

    usage_consume(user_id=user.id, metric="runs", amount=1, limit=1, window_start=tomorrow[0], window_end=tomorrow[1])

    assert list(UsageCounter.objects.filter(user=user).order_by("window_start").values_list("count", flat=True)) == [
        1,
        1,
    ]


@pytest.mark.both_dialects
def test_usage_release_gives_back_but_never_below_zero(user) -> None:
    usage_consume(user_id=user.id, metric="storage", amount=100, limit=None, window_start=DAY[0], window_end=DAY[1])

    usage_release_at(user_id=user.id, metric="storage", amount=150, at=DAY[0] + timedelta(hours=1))

    assert UsageCounter.objects.get(user=user, metric="storage").count == 0


def test_storage_release_gives_back_many_users_bytes_in_one_call_never_below_zero(make_user) -> None:
    # Billing's writer that the storage_objects_deleted trigger calls once per deleting statement.
    first, second, untouched = make_user(), make_user(), make_user()
    for user, stored in ((first, 100), (second, 40), (untouched, 70)):
        usage_consume(
            user_id=user.id,
            metric=STORAGE_METRIC,
            amount=stored,
            limit=None,
            window_start=STORAGE_WINDOW[0],
            window_end=STORAGE_WINDOW[1],
        )

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT public.versatools_storage_usage_release(%s::uuid[], %s::bigint[])",
            [[first.id, second.id], [30, 500]],
        )

    counts = dict(UsageCounter.objects.filter(metric=STORAGE_METRIC).values_list("user_id", "count"))
    assert counts == {first.id: 70, second.id: 0, untouched.id: 70}


def test_storage_recount_sets_every_counter_to_the_live_bytes_it_is_given(make_user) -> None:
    drifted, gone, right = make_user(), make_user(), make_user()
    for user, stored in ((drifted, 100), (gone, 40), (right, 70)):
        usage_consume(
            user_id=user.id,
            metric=STORAGE_METRIC,
            amount=stored,
            limit=None,
            window_start=STORAGE_WINDOW[0],
            window_end=STORAGE_WINDOW[1],
        )
    newcomer = make_user()
    live = {drifted.id: 90, right.id: 70, newcomer.id: 5}  # "gone" has no object left

    with transaction.atomic():
        storage_usage_lock()
        assert storage_usage_recount(live_bytes=live, repair=False) == (3, 0)
    with transaction.atomic():
        storage_usage_lock()
        assert storage_usage_recount(live_bytes=live, repair=True) == (3, 3)

    counts = dict(UsageCounter.objects.filter(metric=STORAGE_METRIC).values_list("user_id", "count"))
    assert counts == {drifted.id: 90, gone.id: 0, right.id: 70, newcomer.id: 5}


@pytest.mark.parametrize(
    "window,at,expected",
    [
        (
            "day",
            datetime(2026, 3, 31, 23, 59, tzinfo=UTC),
            (datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        ),
        (
            "month",
            datetime(2026, 12, 31, 12, tzinfo=UTC),
            (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ),
        (
            "month",
            datetime(2026, 1, 31, tzinfo=UTC),
            (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
        ),
    ],
)
def test_usage_windows_are_utc_days_and_calendar_months(window: str, at: datetime, expected) -> None:
    assert usage_window_bounds(window=window, at=at) == expected


@pytest.mark.both_dialects
def test_subscription_change_updates_the_one_subscription_and_logs_each_event(user) -> None:
    from billing.models import Plan, Subscription, SubscriptionEvent
    from billing.subscriptions import subscription_change

    Plan.objects.create(key="basic", name="Basic", credits=10)
    Plan.objects.create(key="pro", name="Pro", credits=100)

    subscription_change(user_id=user.id, plan_key="basic", status="trial", event_type="trial_started")
    subscription_change(user_id=user.id, plan_key="pro", status="active", event_type="upgraded")

    subscription = Subscription.objects.select_related("plan").get(user=user)
    assert (subscription.plan.key, subscription.status) == ("pro", "active")
    events = list(SubscriptionEvent.objects.filter(user=user).order_by("id").values_list("event_type", "plan_key"))
    assert events == [("trial_started", "basic"), ("upgraded", "pro")]


@pytest.mark.both_dialects
def test_subscription_change_to_an_unknown_plan_writes_nothing(user) -> None:
    from billing.exceptions import InvalidSubscription
    from billing.models import Subscription, SubscriptionEvent
    from billing.subscriptions import subscription_change

    with pytest.raises(InvalidSubscription):
        subscription_change(user_id=user.id, plan_key="gold", status="active", event_type="upgraded")

    assert not Subscription.objects.filter(user=user).exists()
    assert not SubscriptionEvent.objects.filter(user=user).exists()


@pytest.mark.both_dialects
def test_account_open_a_second_time_changes_nothing(make_user) -> None:
    from billing.models import Subscription, SubscriptionEvent
    from billing.services import account_open

    Plan.objects.create(key="free", name="Free", credits=20)
    user = make_user()  # opened by the post_save receiver
    before = (
        list(Subscription.objects.filter(user=user).values_list("id", "plan_id", "status", "updated_at")),
        list(CreditLedgerEntry.objects.filter(user=user).values_list("id", "credits")),
        SubscriptionEvent.objects.filter(user=user).count(),
    )

    again = account_open(user_id=user.id)

    assert (again.subscription_created, again.balance_opened) == (False, False)
    assert before == (
        list(Subscription.objects.filter(user=user).values_list("id", "plan_id", "status", "updated_at")),
        list(CreditLedgerEntry.objects.filter(user=user).values_list("id", "credits")),
        SubscriptionEvent.objects.filter(user=user).count(),
    )
    assert balance(user) == 20


@pytest.mark.django_db(transaction=True)
def test_concurrent_account_opens_grant_the_opening_credits_once(make_user) -> None:
    from billing.models import Subscription
    from billing.services import account_open
    from conftest import run_concurrently

    user = make_user()  # before the catalog: not opened yet
    Plan.objects.create(key="free", name="Free", credits=20)

    outcomes = run_concurrently(lambda i: account_open(user_id=user.id), 6)

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert sum(o.subscription_created for o in outcomes) == 1
    assert sum(o.balance_opened for o in outcomes) == 1
    assert Subscription.objects.filter(user=user).count() == 1
    assert balance(user) == 20
    assert list(CreditLedgerEntry.objects.filter(user=user).values_list("credits", "idempotency_key")) == [
        (-20, "opening-grant")
    ]
