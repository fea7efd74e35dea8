"""The defense-in-depth context: our own read paths under the database's policies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import ProgrammingError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import RequestFactory

from billing.models import Plan
from history.models import History
from versatools.rls import RLSReadMiddleware, rls_as_user, rls_protected


def session_state() -> tuple[int, str, str | None]:
    """(backend pid, current_user, request.jwt.claims) of Django's connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), current_user, current_setting('request.jwt.claims', true)")
        return cursor.fetchone()


def every_run_id(request: HttpRequest | None = None) -> JsonResponse:
    """A view that forgot its filter: every run in the table, as far as it can see."""
    return JsonResponse({"runs": sorted(str(pk) for pk in History.objects.values_list("id", flat=True))})


@pytest.mark.django_db
def test_an_unfiltered_query_inside_the_context_returns_only_the_callers_rows(make_user, make_run) -> None:
    alice, bob = make_user(), make_user()
    alice_runs = {make_run(alice).pk, make_run(alice).pk}
    make_run(bob)

    with rls_as_user(alice.pk):
        seen = set(History.objects.all().values_list("id", flat=True))

    assert seen == alice_runs
    assert History.objects.count() == 3  # Django's own role sees everything again


@pytest.mark.django_db
def test_inside_an_enclosing_transaction_the_role_and_claims_are_restored_after_the_block(make_user) -> None:
    alice = make_user()
    pid, own_role, _ = session_state()

    with transaction.atomic():
        with rls_as_user(alice.pk):
            inside = session_state()
        after = session_state()

    assert inside[1] == "authenticated"
    assert json.loads(inside[2]) == {"sub": str(alice.pk), "role": "authenticated", "aud": "authenticated"}
    assert after[:2] == (pid, own_role)
    assert after[2] in (None, "")


@pytest.mark.django_db
def test_an_error_inside_the_context_rolls_the_role_back_with_it(make_user) -> None:
    alice = make_user()
    _, own_role, _ = session_state()

    with pytest.raises(ProgrammingError, match="permission denied"), rls_as_user(alice.pk):
        # authenticated may not write runs: writes belong to the services.
        History.objects.update(tool_name="x")

    assert session_state()[1] == own_role


@pytest.mark.django_db
def test_without_a_user_the_context_is_anon_and_sees_only_public_rows(make_user, make_run) -> None:
    make_run(make_user())
    Plan.objects.create(key="ctx-public", name="Public", credits=1, active=True)
    Plan.objects.create(key="ctx-retired", name="Retired", credits=1, active=False)

    with rls_as_user(None):
        plans = list(Plan.objects.values_list("key", flat=True))
    with pytest.raises(ProgrammingError, match="permission denied"), rls_as_user(None):
        list(History.objects.all())

    assert plans == ["ctx-public"]


@pytest.mark.django_db(transaction=True)
def test_after_a_request_the_pooled_connection_is_back_to_its_own_role_with_no_claims(make_user, make_run) -> None:
    # No test transaction around it: the middleware opens and commits its own,
    # as in production, on the connection the next request will reuse.
    alice, bob = make_user(), make_user()
    alice_run = make_run(alice)
    make_run(bob)
    pid, own_role, _ = session_state()
    seen_inside: list[tuple[int, str, str | None]] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen_inside.append(session_state())
        return every_run_id(request)

    request = RequestFactory().get("/api/runs")
    request.user = alice
    response = RLSReadMiddleware(view)(request)

    assert json.loads(response.content) == {"runs": [str(alice_run.pk)]}
    assert seen_inside[0][:2] == (pid, "authenticated")
    assert json.loads(seen_inside[0][2])["sub"] == str(alice.pk)
    assert connection.in_atomic_block is False
    assert session_state()[0] == pid  # the same backend, reused
    assert session_state()[1:] in ((own_role, None), (own_role, ""))
    assert History.objects.count() == 2


@pytest.mark.django_db
def test_the_middleware_leaves_writes_and_other_paths_to_djangos_own_role(make_user) -> None:
    alice = make_user()
    roles: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        roles.append(session_state()[1])
        return HttpResponse()

    middleware = RLSReadMiddleware(view)
    for method, path in (("post", "/api/runs"), ("get", "/admin/"), ("get", "/api/runs")):
        request = getattr(RequestFactory(), method)(path)
        request.user = alice
        middleware(request)

    own_role = session_state()[1]
    assert roles == [own_role, own_role, "authenticated"]


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [True, False])
def test_a_protected_view_runs_as_the_requests_user(signed_in: bool, make_user, make_run) -> None:
    alice = make_user()
    alice_run = make_run(alice)
    make_run(make_user())
    view: Callable[..., Any] = rls_protected(every_run_id)
    request = RequestFactory().get("/api/runs")
    request.user = alice if signed_in else AnonymousUser()

    if signed_in:
        assert json.loads(view(request).content) == {"runs": [str(alice_run.pk)]}
    else:
        with pytest.raises(ProgrammingError, match="permission denied"):
            view(request)
