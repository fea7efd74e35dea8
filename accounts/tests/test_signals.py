"""One rule for every new user: the default plan, a subscription and that plan's credits from the start."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from billing.models import CreditBalance, CreditLedgerEntry, Plan, Subscription, SubscriptionEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog() -> Plan:
    call_command("load_catalog", verbosity=0)
    return Plan.objects.get(key="free")


def assert_opened_on_the_default_plan(user: User, plan: Plan) -> None:
    subscription = Subscription.objects.get(user=user)
    assert (subscription.plan_id, subscription.status) == (plan.id, "active")
    assert CreditBalance.objects.get(user=user).credits_remaining == plan.credits == 20
    ledger = list(
        CreditLedgerEntry.objects.filter(user=user).values_list("operation_type", "credits", "idempotency_key")
    )
    assert ledger == [("grant", -plan.credits, "opening-grant")]
    assert list(SubscriptionEvent.objects.filter(user=user).values_list("event_type", "plan_key")) == [
        ("account_opened", "free")
    ]


def test_create_user_starts_on_the_default_plan_with_its_credits(catalog: Plan) -> None:
    user = User.objects.create_user(email="new@example.com", password="pw-not-used")

    assert_opened_on_the_default_plan(user, catalog)


def test_createsuperuser_starts_on_the_default_plan_with_its_credits(catalog: Plan, monkeypatch: Any) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-password-for-the-test-91")
    call_command("createsuperuser", interactive=False, email="root@example.com", verbosity=0)

    assert_opened_on_the_default_plan(User.objects.get(email="root@example.com"), catalog)


def test_the_admin_add_form_starts_the_user_on_the_default_plan(catalog: Plan, client: Any, make_user: Any) -> None:
    client.force_login(make_user("op@example.com", is_staff=True, is_superuser=True))

    response = client.post(
        reverse("admin:accounts_user_add"),
        {"email": "added@example.com", "password1": "Zq8-long-enough-pw", "password2": "Zq8-long-enough-pw"},
    )

    assert response.status_code == 302, response.content[:2000]
    assert_opened_on_the_default_plan(User.objects.get(email="added@example.com"), catalog)


def test_create_operator_starts_the_operator_on_the_default_plan(catalog: Plan) -> None:
    call_command("create_operator", "--email", "operator@example.com", stdout=None)

    assert_opened_on_the_default_plan(User.objects.get(email="operator@example.com"), catalog)


def test_a_brand_new_users_dashboard_shows_the_plans_credits_and_the_plan(
    catalog: Plan, client: Any, make_user: Any, bearer: Any
) -> None:
    user = make_user()

    body = client.get("/api/dashboard", headers=bearer(user)).json()

    assert body["credits_remaining"] == 20  # not null before the first charge
    assert body["plan"]["key"] == "free"
    assert body["subscription"]["status"] == "active"
    plans = {plan["key"]: plan for plan in client.get("/api/plans").json()}
    assert plans["free"]["credits"] == body["credits_remaining"]


def test_the_admin_lists_the_new_users_plan_and_credits(catalog: Plan, client: Any, make_user: Any) -> None:
    make_user("listed@example.com")
    client.force_login(make_user("op@example.com", is_staff=True, is_superuser=True))

    page = client.get(reverse("admin:accounts_user_changelist"), {"q": "listed@example.com"}).content.decode()

    assert "listed@example.com" in page
    assert "Free" in page
    assert ">20<" in page


def test_without_a_catalog_nothing_is_opened_and_the_first_charge_opens_the_balance(make_user: Any) -> None:
    from billing.services import credits_charge

    user = make_user()
    assert not Subscription.objects.filter(user=user).exists()
    assert not CreditBalance.objects.filter(user=user).exists()
    Plan.objects.create(key="free", name="Free", credits=5)

    credits_charge(user_id=user.id, credits=2, idempotency_key="charge:1")

    assert CreditBalance.objects.get(user=user).credits_remaining == 3
