from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from conftest import JWT_TEST_SECRET

pytestmark = pytest.mark.django_db


def token(payload: dict, secret: str = JWT_TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, secret, algorithm=algorithm)


def unsigned(payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def claims(user, **extra) -> dict:
    return {"sub": str(user.id), "aud": "authenticated", "exp": int(time.time()) + 600, **extra}


def test_a_valid_token_authenticates_its_user(client, user, bearer) -> None:
    response = client.get("/api/history", headers=bearer(user))

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "make_token,reason",
    [
        (lambda u: unsigned(claims(u)), "HS256"),
        (lambda u: token(claims(u), secret="someone-elses-secret-0123456789abcdef"), "signature"),
        (lambda u: token(claims(u, exp=int(time.time()) - 10)), "expired"),
        (lambda u: token(claims(u, aud="other-app")), "audience"),
        (lambda u: token({"sub": str(u.id), "aud": "authenticated"}), "exp"),
        (lambda u: token(claims(u, sub="not-a-uuid")), "subject"),
        (lambda u: "garbage.token.here", "not valid"),
    ],
    ids=["alg-none", "wrong-signature", "expired", "wrong-audience", "no-exp", "bad-sub", "garbage"],
)
def test_bad_tokens_get_401_with_a_json_reason(client, user, jwt_secret, make_token, reason: str) -> None:
    response = client.get("/api/history", headers={"Authorization": f"Bearer {make_token(user)}"})

    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_token"
    assert reason in body["detail"]


def test_a_token_for_a_deactivated_user_is_refused(client, user, bearer) -> None:
    user.is_active = False
    user.save()

    response = client.get("/api/history", headers=bearer(user))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_without_credentials_the_api_answers_401_json(client) -> None:
    response = client.get("/api/dashboard")

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_bearer_tokens_are_refused_when_no_secret_is_configured(client, user, settings) -> None:
    settings.SUPABASE_JWT_SECRET = ""

    response = client.get("/api/history", headers={"Authorization": f"Bearer {token(claims(user))}"})

    assert response.status_code == 401
    assert "SUPABASE_JWT_SECRET" in response.json()["detail"]


def test_session_writes_need_the_csrf_token(user, make_run) -> None:
    from django.test import Client

    run = make_run(user)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    refused = browser.delete(f"/api/history/{run.id}")
    assert refused.status_code == 403
    assert refused.json() == {"error": "forbidden", "detail": "CSRF check Failed"}
    assert run.__class__.objects.filter(id=run.id).exists()

    browser.get("/admin/login/")  # sets the csrftoken cookie
    csrf = browser.cookies["csrftoken"].value
    accepted = browser.delete(f"/api/history/{run.id}", headers={"X-CSRFToken": csrf})
    assert accepted.status_code == 204
    assert not run.__class__.objects.filter(id=run.id).exists()
