"""Shared test fixtures: one place for users, runs and service guards.

The suite runs against PostgreSQL (``make test`` sets DATABASE_URL). With
``CI`` set, a missing PostgreSQL or Redis fails the run instead of skipping.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

import pytest

_counter = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        message = "The suite needs PostgreSQL: run it with `make test` (it sets DATABASE_URL)."
        if os.environ.get("CI"):
            pytest.exit(message, returncode=1)
        config.issue_config_time_warning(pytest.PytestConfigWarning(message), stacklevel=2)


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    from accounts.models import User

    def make(email: str | None = None, **fields: Any) -> User:
        email = email or f"user{next(_counter)}@example.com"
        return User.objects.create_user(email=email, password="pw-not-used", **fields)

    return make


@pytest.fixture
def user(make_user: Callable[..., Any]) -> Any:
    return make_user()


@pytest.fixture
def make_run(db: Any) -> Callable[..., Any]:
    from history.models import History

    def make(user: Any, **fields: Any) -> History:
        fields.setdefault("tool_id", "pdf-merge")
        fields.setdefault("tool_name", "PDF Merger")
        fields.setdefault("input_file_name", "in.pdf")
        fields.setdefault("idempotency_key", f"key-{next(_counter)}")
        return History.objects.create(user=user, **fields)

    return make


def run_concurrently(fn: Callable[[int], Any], count: int) -> list[Any]:
    """Call ``fn(i)`` from ``count`` threads released at once, each on its own connection.

    Returns each call's result or the exception it raised, in call order.
    Tests using it need ``django_db(transaction=True)``: the threads' own
    connections only see committed rows.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    barrier = threading.Barrier(count)

    def call(i: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return fn(i)
        except Exception as exc:  # returned, so the test can assert on each outcome
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


JWT_TEST_SECRET = "test-jwt-secret-for-the-suite-0123456789"


@pytest.fixture
def jwt_secret(settings: Any) -> str:
    settings.SUPABASE_JWT_SECRET = JWT_TEST_SECRET
    return JWT_TEST_SECRET


@pytest.fixture
def bearer(jwt_secret: str) -> Callable[..., dict[str, str]]:
    """Headers carrying a Supabase-style access token for a user."""
    import time

    import jwt

    def headers(user: Any, **claims: Any) -> dict[str, str]:
        payload = {"sub": str(user.id), "aud": "authenticated", "role": "authenticated", "exp": int(time.time()) + 600}
        payload.update(claims)
        return {"Authorization": f"Bearer {jwt.encode(payload, jwt_secret, algorithm='HS256')}"}

    return headers
