"""The upload guard refuses before the body is read; the NUL guard refuses before any query runs.

The upload tests send raw WSGI requests whose ``wsgi.input`` raises if
anything reads it: a refusal that comes after the body was spooled (the
issue's 118 MB before a 403) fails the test instead of passing it.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.conf import settings
from django.test.client import ClientHandler

from billing.models import CreditLedgerEntry, Plan, Subscription, UsageCounter
from billing.selectors import effective_plan
from files.models import StorageObject
from history.models import History
from history.selectors import MULTIPART_FORM_OVERHEAD_BYTES, MULTIPART_PART_OVERHEAD_BYTES, run_upload_body_limit

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
GIB = 1024**3


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anything reads a byte of it."""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the request body was read")

    readline = read  # type: ignore[assignment]

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the request body was read")


def raw_upload(*, content_length: str | None, script_name: str = "", **headers: str) -> Any:
    """POST /api/runs through Django's whole stack (every middleware) with an unreadable body."""
    environ = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": script_name,
        "PATH_INFO": "/api/runs",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "multipart/form-data; boundary=vt-boundary",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": UnreadableBody(),
        "wsgi.errors": io.StringIO(),
        "wsgi.multiprocess": True,
        "wsgi.multithread": False,
        "wsgi.run_once": False,
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    response = ClientHandler(enforce_csrf_checks=True)(environ)
    response.json = lambda: json.loads(response.content)  # as the test client's responses have
    return response


def nothing_written() -> None:
    assert not History.objects.exists()
    assert not StorageObject.objects.exists()
    assert not CreditLedgerEntry.objects.exists()
    assert not UsageCounter.objects.exists()


@pytest.fixture
def free_plan() -> Plan:
    return Plan.objects.create(key="free", name="Free", credits=20, max_file_bytes=10 * MB)


def session_cookie(client: Any, user: Any) -> str:
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_the_body_bound_is_the_most_files_a_tool_takes_at_the_callers_file_limit(user, free_plan) -> None:
    pro = Plan.objects.create(key="pro", name="Pro", credits=0, max_file_bytes=50 * MB)

    free_bound = run_upload_body_limit(limits=effective_plan(user_id=user.id).limits)
    Subscription.objects.create(user=user, plan=pro)
    pro_bound = run_upload_body_limit(limits=effective_plan(user_id=user.id).limits)

    # pdf-merge takes 10 files, each may be at the plan's limit.
    assert free_bound == 10 * (10 * MB + MULTIPART_PART_OVERHEAD_BYTES) + MULTIPART_FORM_OVERHEAD_BYTES
    assert pro_bound == 10 * (50 * MB + MULTIPART_PART_OVERHEAD_BYTES) + MULTIPART_FORM_OVERHEAD_BYTES


@pytest.mark.parametrize(
    "headers",
    [
        {},
        # The client: a CSRF cookie and header it made up itself.
        {"cookie": f"{settings.CSRF_COOKIE_NAME}={'x' * 32}", "x_csrftoken": "x" * 32},
        {"cookie": f"{settings.SESSION_COOKIE_NAME}=not-a-session-key"},
        {"authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_an_anonymous_upload_is_401_before_its_body_is_read(headers: dict[str, str]) -> None:
    response = raw_upload(content_length=str(3 * GIB), **headers)

    assert response.status_code == 401
    assert response.json() == {
        "error": "not_authenticated",
        "detail": "Sign in, or send an Authorization: Bearer token.",
    }
    nothing_written()


def test_an_anonymous_upload_without_a_length_is_401_too() -> None:
    response = raw_upload(content_length=None)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


@pytest.mark.parametrize(
    "authorization,detail",
    [
        ("Bearer not-a-token", "The access token is not valid"),
        ("Bearer ", "The access token is not valid"),
    ],
)
def test_an_invalid_bearer_token_is_401_before_the_body_is_read(
    user, jwt_secret, client, authorization: str, detail: str
) -> None:
    # A valid session does not rescue an invalid token: the API decides on the token alone.
    response = raw_upload(content_length=str(3 * GIB), authorization=authorization, cookie=session_cookie(client, user))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.json()["detail"].startswith(detail)
    nothing_written()


def test_an_expired_token_is_401_before_the_body_is_read(user, bearer) -> None:
    import time

    (authorization,) = bearer(user, exp=int(time.time()) - 10).values()

    response = raw_upload(content_length=str(3 * GIB), authorization=authorization)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "detail": "The access token has expired."}


def test_a_free_user_over_their_own_plan_is_413_before_the_body_is_read(user, bearer, free_plan) -> None:
    (authorization,) = bearer(user).values()
    bound = run_upload_body_limit(limits=effective_plan(user_id=user.id).limits)

    response = raw_upload(content_length=str(bound + 1), authorization=authorization)

    assert response.status_code == 413
    assert response.json() == {
        "error": "file_too_large",
        "detail": f"The upload is {bound + 1} bytes; your plan accepts at most {bound} bytes in one request.",
    }
    nothing_written()
    # The free-plan body, 113 MB, is over the free bound (10 files of 10 MB, plus framing).
    assert raw_upload(content_length=str(113 * MB), authorization=authorization).status_code == 413


def test_a_session_user_over_their_plan_is_413_before_the_body_is_read(client, user, free_plan) -> None:
    response = raw_upload(content_length=str(113 * MB), cookie=session_cookie(client, user))

    assert response.status_code == 413
    assert response.json()["error"] == "file_too_large"
    nothing_written()


def test_a_script_name_prefix_does_not_skip_the_check(user, bearer, free_plan) -> None:
    (authorization,) = bearer(user).values()

    over = raw_upload(content_length=str(3 * GIB), script_name="/versatools", authorization=authorization)
    anonymous = raw_upload(content_length=str(3 * GIB), script_name="/versatools")

    assert (over.status_code, over.json()["error"]) == (413, "file_too_large")
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "not_authenticated")
    nothing_written()


@pytest.mark.parametrize("content_length,status,code", [(None, 411, "length_required"), ("lots", 400, "invalid_input")])
def test_an_unknowable_length_is_refused_before_the_body_is_read(
    user, bearer, content_length: str | None, status: int, code: str
) -> None:
    (authorization,) = bearer(user).values()

    response = raw_upload(content_length=content_length, authorization=authorization)

    assert (response.status_code, response.json()["error"]) == (status, code)
    nothing_written()


def test_the_upload_guard_comes_after_authentication() -> None:
    order = settings.MIDDLEWARE
    guard = order.index("versatools.middleware.UploadBodyLimitMiddleware")
    assert guard > order.index("django.contrib.auth.middleware.AuthenticationMiddleware")


# --- NUL bytes: 400, never a query ----------------------------------------------


@pytest.fixture
def operator_client(client, make_user):
    client.force_login(make_user("op@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/history/history/?q=%00",
        "/admin/history/history/?tool=pdf%00merge",
        "/admin/history/history/?status__exact=%00",
        "/admin/history/history/?expired=%00&q=x",
        "/admin/accounts/user/?q=a%00b",
        "/admin/billing/creditledgerentry/?operation_type__exact=%00",
        "/admin/files/storageobject/?q=%00",
    ],
)
def test_a_nul_byte_in_an_admin_filter_or_search_is_400_not_500(operator_client, url: str) -> None:
    response = operator_client.get(url)

    assert response.status_code == 400


def test_a_nul_byte_in_a_header_is_400(client, user, bearer) -> None:
    response = client.get("/api/history", headers={**bearer(user), "X-Request-Note": "a\x00b"})

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_input",
        "detail": "The request's header X-Request-Note contains a NUL byte.",
    }


def test_a_clean_request_passes_the_nul_guard(operator_client) -> None:
    assert operator_client.get("/admin/history/history/?q=report").status_code == 200
