"""The account pages, through django-allauth's own views: sign-up, verification, sign-in and out, passwords.

Real views, forms, sessions and mail (Django's locmem backend in tests): a
link is followed as it arrives in the mail.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.core.management import call_command

from accounts.models import User
from accounts.selectors import email_is_verified
from accounts.services import operator_ensure
from billing.models import CreditBalance, CreditLedgerEntry, Subscription

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-Passphrase-42"


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    # allauth counts sign-ups, failed sign-ins and reset mails per IP in the cache; every test is a new visitor.
    cache.clear()


@pytest.fixture
def catalog() -> None:
    call_command("load_catalog", verbosity=0)


def link_in(message: Any, path: str) -> str:
    found = re.search(rf"https?://[^\s/]+({re.escape(path)}\S*)", message.body)
    assert found, message.body
    return found.group(1)


def signed_in_user_id(client: Any) -> str | None:
    return client.session.get(SESSION_KEY)


def sign_up(client: Any, email: str = "new@example.com") -> Any:
    return client.post("/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD})


def test_sign_up_opens_the_account_on_the_default_plan_and_mails_a_verification_link(
    client, catalog, mailoutbox
) -> None:
    response = sign_up(client, "New.Person@Example.com")

    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    user = User.objects.get(email__iexact="new.person@example.com")
    assert user.check_password(PASSWORD)
    assert signed_in_user_id(client) == str(user.pk)  # unverified people may sign in
    # billing's post_save receiver opened the account, as for any new user.
    assert Subscription.objects.get(user=user).plan.key == "free"
    assert CreditBalance.objects.get(user=user).credits_remaining == 20
    assert CreditLedgerEntry.objects.filter(user=user, idempotency_key="opening-grant").exists()
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.primary, address.verified) == ("new.person@example.com", True, False)
    assert not email_is_verified(user_id=user.id)
    [message] = mailoutbox
    assert message.to == ["new.person@example.com"]
    assert message.subject.startswith("[VersaTools] ")
    assert "/accounts/confirm-email/" in message.body


def test_the_link_in_the_mail_verifies_the_address(client, mailoutbox) -> None:
    sign_up(client)
    user = User.objects.get(email="new@example.com")
    link = link_in(mailoutbox[0], "/accounts/confirm-email/")

    page = client.get(link)
    assert page.status_code == 200 and b"Confirm" in page.content
    assert not email_is_verified(user_id=user.id)  # a GET (a mail scanner's prefetch) confirms nothing
    confirmed = client.post(link)

    assert confirmed.status_code == 302
    assert email_is_verified(user_id=user.id)
    assert EmailAddress.objects.get(user=user).verified


def test_a_forged_verification_link_verifies_nothing(client) -> None:
    sign_up(client)
    user = User.objects.get(email="new@example.com")

    page = client.post("/accounts/confirm-email/not-a-real-key/")

    assert page.status_code in (200, 404)
    assert not email_is_verified(user_id=user.id)


def test_sign_in_with_email_and_password_then_sign_out(client, make_user) -> None:
    user = make_user("person@example.com")
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])

    refused = client.post("/accounts/login/", {"login": "person@example.com", "password": "wrong-password"})
    assert refused.status_code == 200 and b'role="alert"' in refused.content
    assert signed_in_user_id(client) is None

    signed_in = client.post("/accounts/login/", {"login": "Person@Example.com", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/dashboard/"
    assert signed_in_user_id(client) == str(user.pk)
    assert client.get("/dashboard/").status_code == 200

    signed_out = client.post("/accounts/logout/")
    assert signed_out.status_code == 302 and signed_out["Location"] == "/accounts/login/"
    assert signed_in_user_id(client) is None
    again = client.get("/dashboard/")
    assert again.status_code == 302 and again["Location"] == "/accounts/login/?next=/dashboard/"


def test_the_dashboard_sends_visitors_to_sign_in_and_back(client, make_user) -> None:
    user = make_user("back@example.com")
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])

    login = client.get("/dashboard/", follow=True)
    assert login.redirect_chain == [("/accounts/login/?next=/dashboard/", 302)]
    assert b'name="next" value="/dashboard/"' in login.content
    back = client.post(
        "/accounts/login/?next=/dashboard/", {"login": user.email, "password": PASSWORD, "next": "/dashboard/"}
    )
    assert back["Location"] == "/dashboard/"


def test_password_reset_through_the_mailed_link(client, make_user, mailoutbox) -> None:
    user = make_user("forgetful@example.com")

    asked = client.post("/accounts/password/reset/", {"email": "forgetful@example.com"})
    assert asked.status_code == 302
    [message] = mailoutbox
    assert message.to == ["forgetful@example.com"]
    link = link_in(message, "/accounts/password/reset/key/")
    # allauth moves the key out of the URL into the session (no Referer leak), then shows the form there.
    form = client.get(link, follow=True)
    [(form_url, _)] = form.redirect_chain
    assert form_url.endswith("-set-password/") and b'name="password1"' in form.content
    done = client.post(form_url, {"password1": PASSWORD, "password2": PASSWORD})

    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert client.post("/accounts/login/", {"login": user.email, "password": PASSWORD}).status_code == 302
    assert client.post(form_url, {"password1": "x-Another-one-99", "password2": "x-Another-one-99"}).status_code != 302


def test_a_reset_for_an_unknown_address_reveals_nothing_on_the_page(client, mailoutbox) -> None:
    asked = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})

    assert asked.status_code == 302  # the same answer as for a known address
    # The mail tells the owner of the address that it has no account here; nothing is created.
    [message] = mailoutbox
    assert message.to == ["nobody@example.com"] and "/accounts/password/reset/key/" not in message.body
    assert not User.objects.filter(email="nobody@example.com").exists()


def test_password_change_keeps_the_session(client, make_user) -> None:
    user = make_user("changer@example.com")
    user.set_password("the-old-Passphrase-1")
    user.save(update_fields=["password"])
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")

    wrong = client.post(
        "/accounts/password/change/", {"oldpassword": "not-it", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert wrong.status_code == 200
    changed = client.post(
        "/accounts/password/change/",
        {"oldpassword": "the-old-Passphrase-1", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert changed.status_code == 302
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and not user.check_password("the-old-Passphrase-1")
    assert client.get("/dashboard/").status_code == 200  # still signed in


def test_the_operator_admin_keeps_its_own_login(client) -> None:
    operator_ensure(email="op@example.com", password="op-password-1")

    page = client.get("/admin/login/")
    signed_in = client.post("/admin/login/?next=/admin/", {"username": "op@example.com", "password": "op-password-1"})

    assert page.status_code == 200 and b'id="id_username"' in page.content
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"])
def test_the_account_pages_are_in_the_sites_frame(client, path: str) -> None:
    page = client.get(path)

    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="brand"' in html and "dashboard/dashboard.css" in html
    assert 'class="tile login-card account-card entrance"' in html
    assert "Continue with" not in html  # no provider has credentials here


def test_a_provider_with_credentials_is_offered(client, settings) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "github": {"SCOPE": ["user:email"], "APPS": [{"client_id": "gh-id", "secret": "gh-secret", "key": ""}]},
    }

    html = client.get("/accounts/login/").content.decode()

    assert 'id="provider-github"' in html and "Continue with GitHub" in html
    assert "Continue with Google" not in html
