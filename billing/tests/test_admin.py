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
