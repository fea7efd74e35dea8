"""The defense-in-depth context: our own read paths under the database's policies.

The JSON API's use of it, through real requests, is in test_api_rls.py.
"""

from __future__ import annotations

import json

import pytest
from django.db import ProgrammingError, connection, transaction

from billing.models import Plan
from history.models import History
from versatools.rls import rls_as_user


def session_state() -> tuple[int, str, str | None]:
    """(backend pid, current_user, request.jwt.claims) of Django's connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), current_user, current_setting('request.jwt.claims', true)")
        return cursor.fetchone()


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
