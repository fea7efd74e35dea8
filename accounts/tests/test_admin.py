from __future__ import annotations

import io

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse

from accounts.services import OPERATORS_VIEW_ONLY
from billing.models import AdminSettings, CreditBalance, CreditLedgerEntry, Plan, Subscription
from billing.services import credit_balance_open
from billing.subscriptions import subscription_change
from files.models import StorageObject
from history.models import History
from stats.models import ToolStatistics

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, make_user):
    user = make_user("viewer@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS_VIEW_ONLY))
    client.force_login(user)
    return user


@pytest.fixture
def objects(make_user, make_run):
    owner = make_user("owner@example.com")
    credit_balance_open(user_id=owner.id, credits=9)
    Plan.objects.create(key="pro", name="Pro", credits=100)
    subscription_change(user_id=owner.id, plan_key="pro", status="active", event_type="upgraded")
    run = make_run(owner)
    StorageObject.objects.create(
        user=owner,
        run=run,
        key="k/1.pdf",
        original_name="1.pdf",
        content_type="application/pdf",
        size=1,
        expires_at=run.expires_at,
    )
    AdminSettings.objects.create()
    ToolStatistics.objects.create(tool_id="pdf-merge", runs=1)
    return owner, run


def test_the_group_holds_every_view_permission_and_nothing_else() -> None:
    group = Group.objects.get(name=OPERATORS_VIEW_ONLY)
    held = set(group.permissions.values_list("codename", flat=True))
    assert held == set(Permission.objects.filter(codename__startswith="view_").values_list("codename", flat=True))
    assert {"view_history", "view_creditledgerentry", "view_storageobject", "view_user"} <= held
    assert not [codename for codename in held if not codename.startswith("view_")]


def test_the_command_restores_the_group() -> None:
    group = Group.objects.get(name=OPERATORS_VIEW_ONLY)
    group.permissions.add(Permission.objects.get(codename="change_history"))
    out = io.StringIO()
    call_command("create_operator_group", stdout=out)
    assert not group.permissions.filter(codename="change_history").exists()
    assert OPERATORS_VIEW_ONLY in out.getvalue()


def test_a_view_only_operator_sees_everything(client, viewer, objects) -> None:
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/operator-dashboard/").status_code == 200
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert changelist.status_code == 200, opts.label
        assert b'name="action"' not in changelist.content, opts.label  # no actions offered
        obj = model_admin.get_queryset(changelist.wsgi_request).first()
        if obj is not None:
            detail = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
            assert detail.status_code == 200, opts.label
            assert b'name="_save"' not in detail.content, opts.label


def test_a_view_only_operator_can_change_nothing(client, viewer, objects) -> None:
    owner, run = objects
    refused = []
    for model in admin.site._registry:
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        obj = model._default_manager.first()
        attempts = [client.get(reverse(f"{prefix}_add")), client.post(reverse(f"{prefix}_add"), {})]
        if obj is not None:
            attempts += [
                client.post(reverse(f"{prefix}_change", args=[obj.pk]), {}),
                client.get(reverse(f"{prefix}_delete", args=[obj.pk])),
                client.post(reverse(f"{prefix}_delete", args=[obj.pk]), {"post": "yes"}),
            ]
        refused.append((opts.label, {response.status_code for response in attempts}))
    assert all(codes == {403} for _, codes in refused), refused
    for action in ("mark_failed_with_refund", "expire_now", "purge", "adjust_credits", "delete_selected"):
        response = client.post("/admin/history/history/", {"action": action, "_selected_action": [run.id]})
        assert response.status_code == 403, action
    response = client.post("/admin/accounts/user/", {"action": "adjust_credits", "_selected_action": [owner.id]})
    assert response.status_code == 403
    response = client.post("/admin/billing/plan/", {"_save": "1", "form-TOTAL_FORMS": "0"})
    assert response.status_code == 403
    assert History.objects.filter(id=run.id, status="PENDING").exists()
    assert CreditBalance.objects.get(user=owner).credits_remaining == 9
    assert CreditLedgerEntry.objects.filter(user=owner).count() == 1  # the opening grant only


def test_user_page_shows_subscription_balance_and_only_the_newest_runs(client, make_user, make_run, objects):
    owner, _ = objects
    for i in range(14):
        make_run(owner, input_file_name=f"file-{i:02d}.pdf")
    client.force_login(make_user("op@example.com", is_staff=True, is_superuser=True))
    page = client.get(f"/admin/accounts/user/{owner.id}/change/").content.decode()
    assert "Pro" in page and ">9<" in page.replace(" ", "").replace("\n", "")
    assert "file-13.pdf" in page and "file-04.pdf" in page  # the newest ten
    assert "file-03.pdf" not in page and "file-00.pdf" not in page
    assert Subscription.objects.filter(user=owner).exists()


def test_user_list_has_plan_and_credits_without_n_plus_one(client, make_user, django_assert_max_num_queries):
    for i in range(20):
        user = make_user()
        credit_balance_open(user_id=user.id, credits=i + 1)
    client.force_login(make_user("op@example.com", is_staff=True, is_superuser=True))
    with django_assert_max_num_queries(8):
        response = client.get("/admin/accounts/user/")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 21


def test_user_page_shows_the_plan_in_force_not_only_the_subscriptions(client, make_user, objects):
    owner, _ = objects
    Plan.objects.create(key="free", name="Free", credits=5)
    client.force_login(make_user("op@example.com", is_staff=True, is_superuser=True))
    url = f"/admin/accounts/user/{owner.id}/change/"

    assert "Pro (pro)" in client.get(url).content.decode()
    Subscription.objects.filter(user=owner).update(status="cancelled")
    page = client.get(url).content.decode()
    assert "Free (free)" in page and "Pro (pro)" not in page


def test_an_operator_marks_a_users_current_address_verified_through_the_service(client, make_user) -> None:
    from allauth.account.models import EmailAddress

    from accounts.selectors import email_is_verified

    client.force_login(make_user("op@example.com", is_staff=True, is_superuser=True))
    person = make_user("person@example.com", verified=False)
    current = EmailAddress.objects.create(user=person, email="person@example.com", primary=True)
    old = EmailAddress.objects.create(user=person, email="old@example.com")

    response = client.post(
        "/admin/account/emailaddress/",
        {"action": "mark_verified", "_selected_action": [current.id, old.id]},
        follow=True,
    )

    assert response.status_code == 200
    assert email_is_verified(user_id=person.id)
    assert not EmailAddress.objects.get(id=old.id).verified  # not the user's address: left alone
    assert b"1 address(es) marked verified." in response.content and b"old@example.com" in response.content


def test_oauth_clients_and_provider_tokens_have_no_admin_pages() -> None:
    from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken

    registered = set(admin.site._registry)
    assert SocialAccount in registered
    assert not {SocialApp, SocialToken} & registered
