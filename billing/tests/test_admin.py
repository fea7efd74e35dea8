from __future__ import annotations

import pytest

from billing.admin import AdminSettingsForm
from billing.models import AdminSettings, CreditBalance, CreditLedgerEntry
from billing.services import credit_balance_open

pytestmark = pytest.mark.django_db


def form(costs: str, disabled: str = "[]") -> AdminSettingsForm:
    return AdminSettingsForm(data={"feature_costs": costs, "disabled_tools": disabled})


def test_tool_costs_are_checked_against_the_registry() -> None:
    assert form('{"pdf-merge": 3}', '["image-convert"]').is_valid()
    assert "pdf-mrege" in str(form('{"pdf-mrege": 3}').errors["feature_costs"])
    assert form('{"pdf-merge": -1}').errors["feature_costs"]
    assert form('{"pdf-merge": 1.5}').errors["feature_costs"]
    assert form('["pdf-merge"]').errors["feature_costs"]
    assert "nope" in str(form("{}", '["nope"]').errors["disabled_tools"])


def test_operator_edits_tool_costs_in_the_admin(admin_client) -> None:
    AdminSettings.objects.create()
    response = admin_client.post(
        "/admin/billing/adminsettings/singleton/change/",
        {"feature_costs": '{"pdf-merge": 5}', "disabled_tools": '["image-convert", "image-convert"]'},
    )
    assert response.status_code == 302
    settings = AdminSettings.objects.get()
    assert (settings.feature_costs, settings.disabled_tools) == ({"pdf-merge": 5}, ["image-convert"])


def test_adjust_credits_from_the_users_list_refuses_an_overdraft(admin_client, make_user) -> None:
    rich, poor = make_user(), make_user()
    credit_balance_open(user_id=rich.id, credits=10)
    credit_balance_open(user_id=poor.id, credits=1)
    response = admin_client.post(
        "/admin/accounts/user/",
        {
            "action": "adjust_credits",
            "_selected_action": [rich.id, poor.id],
            "apply": "1",
            "delta": -3,
            "operation_type": "correction",
            "reason": "duplicate grant",
            "nonce": "6f1c1e0e-0000-4000-8000-000000000001",
        },
        follow=True,
    )
    assert CreditBalance.objects.get(user=rich).credits_remaining == 7
    assert CreditBalance.objects.get(user=poor).credits_remaining == 1
    assert not CreditLedgerEntry.objects.filter(user=poor, operation_type="correction").exists()
    shown = [str(m) for m in response.context["messages"]]
    assert any("negative" in m for m in shown) and any("1 user(s)" in m for m in shown)


def test_a_grant_cannot_take_credits_away(admin_client, make_user) -> None:
    user = make_user()
    response = admin_client.post(
        "/admin/accounts/user/",
        {
            "action": "adjust_credits",
            "_selected_action": [user.id],
            "apply": "1",
            "delta": -3,
            "operation_type": "grant",
            "reason": "x",
            "nonce": "6f1c1e0e-0000-4000-8000-000000000002",
        },
    )
    assert response.status_code == 200 and "use a correction" in response.content.decode()
    assert not CreditLedgerEntry.objects.filter(user=user, operation_type="grant", credits=3).exists()


ADMIN_SETTINGS_ADD = "/admin/billing/adminsettings/add/"


@pytest.fixture
def viewer_client(client, make_user):
    from django.contrib.auth.models import Group

    from accounts.services import OPERATORS_VIEW_ONLY

    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.groups.add(Group.objects.get(name=OPERATORS_VIEW_ONLY))
    client.force_login(viewer)
    return client


def test_a_view_only_operator_cannot_create_the_missing_settings_row(viewer_client) -> None:
    assert not AdminSettings.objects.exists()

    page = viewer_client.get(ADMIN_SETTINGS_ADD)
    posted = viewer_client.post(ADMIN_SETTINGS_ADD, {"feature_costs": '{"pdf-merge": 0}', "disabled_tools": "[]"})
    changelist = viewer_client.get("/admin/billing/adminsettings/")

    assert (page.status_code, posted.status_code) == (403, 403)
    assert not AdminSettings.objects.exists()
    assert changelist.status_code == 200
    assert ADMIN_SETTINGS_ADD.encode() not in changelist.content  # no "Add" button either


def test_an_operator_adds_the_settings_row_once(admin_client) -> None:
    created = admin_client.post(ADMIN_SETTINGS_ADD, {"feature_costs": '{"pdf-merge": 2}', "disabled_tools": "[]"})
    again = admin_client.get(ADMIN_SETTINGS_ADD)

    assert created.status_code == 302
    assert AdminSettings.objects.get().feature_costs == {"pdf-merge": 2}
    assert again.status_code == 403  # the singleton: a second row would never be read


# --- Subscriptions: every change an action through billing.subscriptions -------------------


@pytest.fixture
def on_basic(make_user):
    from datetime import timedelta

    from django.utils import timezone

    from billing.models import Plan, Subscription

    basic, _ = Plan.objects.update_or_create(key="basic", defaults={"name": "Basic", "credits": 30})
    Plan.objects.update_or_create(key="pro", defaults={"name": "Pro", "credits": 100})
    person = make_user()
    credit_balance_open(user_id=person.id, credits=0)
    now = timezone.now()
    subscription, _ = Subscription.objects.update_or_create(
        user=person,
        defaults={
            "plan": basic,
            "status": "active",
            "current_period_start": now - timedelta(days=3),
            "current_period_end": now + timedelta(days=27),
        },
    )
    return subscription


def subscription_action(client, subscription, action: str, **fields):
    return client.post(
        "/admin/billing/subscription/",
        {"action": action, "_selected_action": [subscription.pk], "apply": "1", **fields},
        follow=True,
    )


def test_an_operator_moves_a_user_to_pro_and_the_timeline_shows_it(admin_client, on_basic) -> None:
    from billing.models import Subscription

    response = subscription_action(admin_client, on_basic, "change_plan", plan="pro")

    assert any("done for 1 subscription" in str(m) for m in response.context["messages"])
    moved = Subscription.objects.select_related("plan").get(pk=on_basic.pk)
    assert moved.plan.key == "pro" and CreditBalance.objects.get(user=on_basic.user).credits_remaining == 70
    detail = admin_client.get(f"/admin/billing/subscription/{on_basic.pk}/change/")
    assert detail.status_code == 200 and b"upgraded" in detail.content


def test_cancel_then_reactivate_and_a_refused_move_is_said_and_changes_nothing(admin_client, on_basic) -> None:
    from billing.models import Subscription

    subscription_action(admin_client, on_basic, "cancel")
    assert Subscription.objects.get(pk=on_basic.pk).status == "cancelled"

    refused = subscription_action(admin_client, on_basic, "extend_trial", days=7)
    assert any("cannot become trial" in str(m) for m in refused.context["messages"])
    assert Subscription.objects.get(pk=on_basic.pk).status == "cancelled"

    subscription_action(admin_client, on_basic, "reactivate", plan="pro")
    back = Subscription.objects.select_related("plan").get(pk=on_basic.pk)
    assert (back.status, back.plan.key) == ("active", "pro")
    assert CreditBalance.objects.get(user=on_basic.user).credits_remaining == 100  # the new period's credits


def test_an_action_needing_a_plan_asks_for_it_first(admin_client, on_basic) -> None:
    from billing.models import Subscription

    response = subscription_action(admin_client, on_basic, "change_plan")

    assert response.status_code == 200 and b"This field is required" in response.content
    assert Subscription.objects.select_related("plan").get(pk=on_basic.pk).plan.key == "basic"


def test_a_view_only_operator_cannot_move_a_subscription(viewer_client, on_basic) -> None:
    from billing.models import Subscription

    response = viewer_client.post(
        "/admin/billing/subscription/", {"action": "cancel", "_selected_action": [on_basic.pk], "apply": "1"}
    )

    assert response.status_code == 403
    assert Subscription.objects.get(pk=on_basic.pk).status == "active"
