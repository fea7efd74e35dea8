"""OAuth sign-in with GitHub: allauth's real login and callback views, GitHub's HTTP API faked at the socket's edge.

Only ``requests``' transport is replaced (``HTTPAdapter.send``): the state
check, the token exchange request, the profile and email reads, the social
login flow, the rows and the session are all real.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.core.management import call_command

from accounts.models import User
from accounts.selectors import email_is_verified
from billing.models import CreditBalance, Subscription

pytestmark = pytest.mark.django_db

GITHUB_APP = {"client_id": "gh-client-id", "secret": "gh-client-secret", "key": ""}


@dataclass
class FakeGitHub:
    """GitHub's token endpoint and REST API as this test wants them to answer."""

    emails: list[dict[str, Any]]
    profile: dict[str, Any] = field(
        default_factory=lambda: {"id": 4242, "login": "octocat", "name": "Octo Cat", "email": None}
    )
    requests: list[requests.PreparedRequest] = field(default_factory=list)

    def answer(self, request: requests.PreparedRequest) -> tuple[int, Any]:
        self.requests.append(request)
        url = request.url.split("?")[0]
        if (request.method, url) == ("POST", "https://github.com/login/oauth/access_token"):
            return 200, {"access_token": "gho_fake-access-token", "token_type": "bearer", "scope": "user:email"}
        if (request.method, url) == ("GET", "https://api.github.com/user"):
            return 200, self.profile
        if (request.method, url) == ("GET", "https://api.github.com/user/emails"):
            return 200, self.emails
        raise AssertionError(f"unexpected request to GitHub: {request.method} {request.url}")


@pytest.fixture
def github(settings, monkeypatch) -> FakeGitHub:
    cache.clear()
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "github": {"SCOPE": ["user:email"], "APPS": [GITHUB_APP]},
    }
    fake = FakeGitHub(emails=[{"email": "octo@example.com", "primary": True, "verified": True}])

    def send(adapter: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        status, body = fake.answer(request)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return fake


def sign_in_with_github(client: Any) -> Any:
    """The browser's round trip: our login view sends it to GitHub, GitHub sends it back with a code."""
    started = client.post("/accounts/github/login/", {"process": "login"})
    assert started.status_code == 302, started.content
    authorize = urlsplit(started["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == "https://github.com/login/oauth/authorize"
    query = parse_qs(authorize.query)
    assert query["client_id"] == ["gh-client-id"] and query["scope"] == ["user:email"]
    assert query["redirect_uri"] == ["http://testserver/accounts/github/login/callback/"]
    return client.get("/accounts/github/login/callback/", {"code": "the-code", "state": query["state"][0]})


def signed_in_user_id(client: Any) -> str | None:
    return client.session.get(SESSION_KEY)


def test_a_new_github_user_gets_an_account_with_a_verified_address_plan_and_credits(client, github) -> None:
    call_command("load_catalog", verbosity=0)

    response = sign_in_with_github(client)

    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    user = User.objects.get(email="octo@example.com")
    assert signed_in_user_id(client) == str(user.pk)
    assert user.name == "Octo Cat"
    assert not user.has_usable_password()
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid, account.extra_data["login"]) == ("github", "4242", "octocat")
    assert email_is_verified(user_id=user.id)  # GitHub says so: no mail needed to start runs
    assert Subscription.objects.get(user=user).plan.key == "free"
    assert CreditBalance.objects.get(user=user).credits_remaining == 20
    assert not SocialToken.objects.exists()  # SOCIALACCOUNT_STORE_TOKENS is off
    # The code was exchanged with our client secret, server to server.
    exchange = parse_qs(github.requests[0].body)
    assert exchange["code"] == ["the-code"] and exchange["client_secret"] == ["gh-client-secret"]
    assert [r.headers["Authorization"] for r in github.requests[1:]] == ["token gho_fake-access-token"] * 2


def test_a_verified_github_address_signs_in_to_the_existing_account_with_it(client, github, make_user) -> None:
    existing = make_user("octo@example.com")  # verified here too
    password_before = existing.password

    response = sign_in_with_github(client)

    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert signed_in_user_id(client) == str(existing.pk)
    assert User.objects.count() == 1
    assert SocialAccount.objects.get(provider="github", uid="4242").user_id == existing.id
    existing.refresh_from_db()
    assert existing.password == password_before  # a verified local address keeps its password

    # And the next time, through the connected account itself.
    client.logout()
    assert sign_in_with_github(client)["Location"] == "/dashboard/"
    assert signed_in_user_id(client) == str(existing.pk)
    assert SocialAccount.objects.count() == 1


def test_an_unverified_github_address_never_opens_the_account_with_that_address(client, github, make_user) -> None:
    existing = make_user("octo@example.com")
    github.emails = [{"email": "octo@example.com", "primary": True, "verified": False}]

    response = sign_in_with_github(client)

    # allauth asks for an address of the person's own instead (octo@ is taken); nobody is signed in.
    assert response.status_code == 302 and response["Location"] == "/accounts/3rdparty/signup/"
    assert signed_in_user_id(client) is None
    assert not SocialAccount.objects.filter(user=existing).exists()
    assert User.objects.count() == 1


def test_an_address_registered_by_someone_else_first_goes_to_its_owner(client, github, make_user) -> None:
    # Someone signed up with the owner's address and never verified it; the
    # owner arrives through GitHub, which has verified it.
    squatter = make_user("octo@example.com", verified=False)
    squatter.set_password("the-squatters-password")
    squatter.save(update_fields=["password"])
    assert not email_is_verified(user_id=squatter.id)

    response = sign_in_with_github(client)

    assert response["Location"] == "/dashboard/"
    assert signed_in_user_id(client) == str(squatter.pk)
    squatter.refresh_from_db()
    assert not squatter.has_usable_password()  # the password someone else chose no longer opens it
    assert email_is_verified(user_id=squatter.id)  # GitHub vouched for the address
    assert SocialAccount.objects.get(uid="4242").user_id == squatter.id


def test_a_callback_with_a_forged_state_signs_nobody_in(client, github) -> None:
    client.post("/accounts/github/login/", {"process": "login"})

    response = client.get("/accounts/github/login/callback/", {"code": "the-code", "state": "forged"})

    assert response.status_code == 401 and b"Third-Party Login Failure" in response.content
    assert signed_in_user_id(client) is None
    assert not User.objects.exists() and not SocialAccount.objects.exists()
    assert github.requests == []  # the code was never exchanged


def test_a_provider_without_credentials_is_not_offered_and_its_login_url_is_dead(client, settings) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {"github": {"SCOPE": ["user:email"]}, "google": {"SCOPE": ["email"]}}

    assert b"Continue with" not in client.get("/accounts/login/").content
    assert client.post("/accounts/github/login/", {"process": "login"}).status_code == 404
