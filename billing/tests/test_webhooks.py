"""POST /api/webhooks/billing through the real request path: signed, idempotent, by the rules."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing.models import CreditBalance, CreditLedgerEntry, Plan, Subscription, SubscriptionEvent
from billing.services import credit_balance_open
from billing.subscriptions import PERIOD
from billing.webhooks import SIGNATURE_HEADER, webhook_signature
from conftest import run_concurrently

SECRET = "whsec-test-0123456789abcdef"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.BILLING_WEBHOOK_SECRET = SECRET


@pytest.fixture
def plans(db):
    basic, _ = Plan.objects.update_or_create(key="basic", defaults={"name": "Basic", "credits": 30})
    pro, _ = Plan.objects.update_or_create(
        key="pro", defaults={"name": "Pro", "credits": 100, "external_id": "asaas-plan-pro"}
    )
    return basic, pro


@pytest.fixture
def subscriber(user, plans):
    basic, _ = plans
    credit_balance_open(user_id=user.id, credits=0)
    now = timezone.now()
    Subscription.objects.update_or_create(
        user=user,
        defaults={
            "plan": basic,
            "status": "active",
            "provider": "asaas",
            "provider_subscription_id": "asaas-sub-1",
            "current_period_start": now - timedelta(days=20),
            "current_period_end": now + timedelta(days=10),
        },
    )
    return user


def event(kind: str, *, event_id: str = "evt_1", created: int | None = None, **data) -> bytes:
    data.setdefault("subscription_id", "asaas-sub-1")
    return json.dumps(
        {"id": event_id, "type": kind, "created": created or int(time.time()), "data": data}, separators=(",", ":")
    ).encode()


def deliver(client, body: bytes, *, signature: str | None = None, at: int | None = None):
    if signature is None:
        signature = webhook_signature(secret=SECRET, timestamp=at or int(time.time()), raw_body=body)
    return client.post(
        "/api/webhooks/billing", data=body, content_type="application/json", headers={SIGNATURE_HEADER: signature}
    )


def balance(user) -> int:
    return CreditBalance.objects.get(user=user).credits_remaining


def state(user):
    subscription = Subscription.objects.select_related("plan").get(user=user)
    return subscription.status, subscription.plan.key, subscription.current_period_end


def test_a_payment_activates_the_period_grants_the_plan_once_and_a_redelivery_changes_nothing(
    client, subscriber
) -> None:
    start = timezone.now().replace(microsecond=0)
    body = event(
        "payment.succeeded",
        plan="pro",
        period_start=start.isoformat(),
        period_end=(start + PERIOD).isoformat(),
    )

    first = deliver(client, body)
    again = deliver(client, body)

    assert first.status_code == 200 and first.json() == {
        "event_id": "evt_1",
        "applied": True,
        "duplicate": False,
        "detail": "",
    }
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert state(subscriber) == ("active", "pro", start + PERIOD)
    assert balance(subscriber) == 100
    [recorded] = SubscriptionEvent.objects.filter(user=subscriber)
    assert (recorded.event_type, recorded.provider_event_id) == ("payment.succeeded", "evt_1")
    assert recorded.metadata["provider_event"]["data"]["plan"] == "pro"  # the raw payload, kept


def test_a_payment_failure_arriving_after_the_cancellation_is_recorded_and_ignored(client, subscriber) -> None:
    now = int(time.time())
    assert deliver(client, event("subscription.cancelled", event_id="evt_c", created=now)).json()["applied"]

    late = deliver(client, event("payment.failed", event_id="evt_f", created=now + 1))

    assert late.status_code == 200
    assert late.json()["applied"] is False and "cancelled subscription cannot become past_due" in late.json()["detail"]
    assert state(subscriber)[0] == "cancelled"
    kinds = list(SubscriptionEvent.objects.filter(user=subscriber).order_by("id").values_list("event_type", flat=True))
    assert kinds == ["subscription.cancelled", "payment.failed.ignored"]
    assert deliver(client, event("payment.failed", event_id="evt_f", created=now + 1)).json()["duplicate"]


def test_an_event_older_than_one_applied_is_ignored(client, subscriber) -> None:
    now = int(time.time())
    assert deliver(client, event("payment.failed", event_id="evt_new", created=now)).json()["applied"]

    stale = deliver(client, event("payment.succeeded", event_id="evt_old", created=now - 3600))

    assert stale.json()["applied"] is False and "older" in stale.json()["detail"]
    assert state(subscriber)[0] == "past_due"
    assert balance(subscriber) == 0


def test_a_plan_change_by_external_id_upgrades_now_with_the_difference(client, subscriber) -> None:
    response = deliver(client, event("plan.changed", plan_external_id="asaas-plan-pro"))

    assert response.json()["applied"] is True
    assert state(subscriber)[:2] == ("active", "pro")
    assert balance(subscriber) == 70


@pytest.mark.parametrize(
    ("body", "signature", "status", "code"),
    [
        (event("payment.failed"), "t=1,v1=deadbeef", 401, "signature_invalid"),
        (event("payment.failed"), "", 401, "signature_invalid"),
        (event("payment.failed"), "stale", 401, "signature_expired"),
        (b"{not json", None, 400, "invalid_event"),
        (event("payment.refunded"), None, 400, "invalid_event"),
        (event("payment.succeeded", plan="gold"), None, 400, "invalid_event"),
        (event("payment.failed", subscription_id="asaas-sub-nobody"), None, 404, "unknown_user"),
        (event("payment.failed", subscription_id=None), None, 400, "invalid_event"),
    ],
    ids=[
        "bad-signature",
        "no-signature",
        "stale",
        "not-json",
        "unknown-type",
        "unknown-plan",
        "unknown-user",
        "nobody",
    ],
)
def test_a_refused_event_changes_nothing(client, subscriber, body, signature, status, code) -> None:
    before = state(subscriber)
    if signature == "stale":
        signature = webhook_signature(secret=SECRET, timestamp=int(time.time()) - 301, raw_body=body)

    response = deliver(client, body, signature=signature)

    assert response.status_code == status, response.content
    assert response.json()["error"] == code
    assert state(subscriber) == before and balance(subscriber) == 0
    assert not SubscriptionEvent.objects.exists()


def test_without_a_secret_the_endpoint_says_it_is_not_configured(client, subscriber, settings) -> None:
    settings.BILLING_WEBHOOK_SECRET = ""

    response = deliver(client, event("payment.failed"), signature="t=1,v1=00")

    assert response.status_code == 503 and response.json()["error"] == "webhooks_not_configured"
    assert state(subscriber)[0] == "active"


@pytest.mark.django_db(transaction=True)
def test_one_event_delivered_eight_times_at_once_is_applied_once(make_user, settings) -> None:
    settings.BILLING_WEBHOOK_SECRET = SECRET
    Plan.objects.update_or_create(key="pro", defaults={"name": "Pro", "credits": 100})
    person = make_user()
    credit_balance_open(user_id=person.id, credits=0)
    basic, _ = Plan.objects.update_or_create(key="basic", defaults={"name": "Basic", "credits": 30})
    Subscription.objects.update_or_create(
        user=person, defaults={"plan": basic, "status": "past_due", "provider_subscription_id": "asaas-sub-race"}
    )
    body = event("payment.succeeded", event_id="evt_race", subscription_id="asaas-sub-race", plan="pro")

    responses = run_concurrently(lambda i: deliver(Client(), body), 8)

    assert sorted(r.status_code for r in responses) == [200] * 8
    assert sorted(r.json()["applied"] for r in responses) == [False] * 7 + [True]
    assert CreditBalance.objects.get(user=person).credits_remaining == 100
    assert CreditLedgerEntry.objects.filter(user=person, operation_type="plan_credits").count() == 1
    assert SubscriptionEvent.objects.filter(provider_event_id="evt_race").count() == 1


def test_an_event_may_name_its_customer_by_the_users_external_id(client, subscriber) -> None:
    subscriber.external_id = "user_2abcClerk"
    subscriber.save(update_fields=["external_id"])

    response = deliver(client, event("payment.failed", customer_id="user_2abcClerk", subscription_id=None))

    assert response.json()["applied"] is True and state(subscriber)[0] == "past_due"
