"""Shared test fixtures: one place for users, runs and service guards.

The suite runs against PostgreSQL (``make test`` sets DATABASE_URL). With
``CI`` set, a missing PostgreSQL or Redis fails the run instead of skipping.
On a sqlite:/// DATABASE_URL only the tests marked ``both_dialects`` run
(``make test``'s third pass, ``pytest --sqlite-pass``): the run lifecycle on
the SQLite twins of the hot queries (``sql/queries/sqlite/``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

import pytest

_counter = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--through-pgbouncer",
        action="store_true",
        help="Run only the database-touching tests, plus those marked pgbouncer; DATABASE_URL must carry"
        " ?pgbouncer=true and DIRECT_URL must be set (make test's second pass).",
    )
    parser.addoption(
        "--sqlite-pass",
        action="store_true",
        help="Run only the tests marked both_dialects, on SQLite; DATABASE_URL must be a sqlite:/// URL"
        " (make test's third pass).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pgbouncer: runs only in the --through-pgbouncer pass")
    config.addinivalue_line("markers", "both_dialects: runs on PostgreSQL and in the SQLite pass (--sqlite-pass)")
    url = os.environ.get("DATABASE_URL", "")
    if config.getoption("sqlite_pass"):
        if not url.startswith("sqlite:"):
            pytest.exit("--sqlite-pass needs DATABASE_URL=sqlite:///<path>.", returncode=1)
    elif not on_postgres():
        message = "The suite needs PostgreSQL: run it with `make test` (it sets DATABASE_URL)."
        if os.environ.get("CI"):
            pytest.exit(message, returncode=1)
        config.issue_config_time_warning(pytest.PytestConfigWarning(message), stacklevel=2)
    if config.getoption("through_pgbouncer") and ("pgbouncer=true" not in url or not os.environ.get("DIRECT_URL")):
        pytest.exit("--through-pgbouncer needs DATABASE_URL=...?pgbouncer=true and DIRECT_URL.", returncode=1)


# --- The pgbouncer pass -------------------------------------------------------

# (django_db_blocker is not a sign: an autouse fixture of pytest-django requests it for every test.)
_DB_FIXTURES = {"db", "transactional_db", "live_server", "django_db_setup"}


def touches_database(item: pytest.Item) -> bool:
    """What the pgbouncer pass runs: tests that use the test database through Django."""
    return item.get_closest_marker("django_db") is not None or bool(
        _DB_FIXTURES & set(getattr(item, "fixturenames", ()))
    )


def on_postgres() -> bool:
    """The dialect under test: PostgreSQL, or SQLite (settings accept nothing else; unset is SQLite)."""
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def runs_on_sqlite(item: pytest.Item) -> bool:
    """What the SQLite pass runs: the tests marked both_dialects, on the filesystem.

    The S3 half of ``any_storage`` talks to moto, not to the database; the
    PostgreSQL pass covers it.
    """
    callspec = getattr(item, "callspec", None)
    on_s3 = callspec is not None and callspec.params.get("any_storage") == "s3"
    return item.get_closest_marker("both_dialects") is not None and not on_s3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    through = config.getoption("through_pgbouncer")
    postgres = on_postgres()
    kept, dropped = [], []
    for item in items:
        if not postgres:
            keep = runs_on_sqlite(item)
        elif through:
            keep = touches_database(item)
        else:
            keep = item.get_closest_marker("pgbouncer") is None
        (kept if keep else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# How a connection reaches the server; NAME stays, so the test database is test_<DATABASE_URL's name>.
_ROUTE_DEFAULTS: dict[str, Any] = {
    "HOST": "",
    "PORT": "",
    "USER": "",
    "PASSWORD": "",
    "OPTIONS": {},
    "DISABLE_SERVER_SIDE_CURSORS": False,
    "CONN_MAX_AGE": 0,
}
_pooled_route: dict[str, Any] = {}


def _route(settings_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: settings_dict.get(key) or default for key, default in _ROUTE_DEFAULTS.items()}


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With DIRECT_URL set, the test database is created, migrated and dropped through it.

    On SQLite the test database is a file in pytest's temporary directory
    rather than Django's default in-memory one, so that a second connection
    (a thread, ``sqlite3.connect``) sees the same committed rows.

    pytest-django creates the test database through the ``default``
    connection, which may be a pooler: CREATE/DROP DATABASE belong on a direct
    connection (a pooler keeps server connections open to the database it
    would drop). ``migrate``'s own DIRECT_URL switch is turned off meanwhile:
    it would migrate DIRECT_URL's database instead of the test database.
    The tests themselves run through DATABASE_URL again (``django_db_setup``).
    """
    from django.conf import settings
    from django.db import connections

    if connections["default"].vendor == "sqlite":
        connections["default"].settings_dict["TEST"]["NAME"] = str(tmp_path_factory.mktemp("sqlite") / "test.sqlite3")
        return
    direct = getattr(settings, "DIRECT_DATABASE", None)
    if not direct:
        return
    default = connections["default"].settings_dict
    _pooled_route.update(_route(default))
    default.update(_route(direct))
    settings.DIRECT_DATABASE = None


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> Any:
    if not _pooled_route:
        yield
        return
    import psycopg
    from django.conf import settings
    from django.db import connections

    default = connections["default"].settings_dict
    direct = _route(default)
    connections.close_all()
    default.update(_pooled_route)
    yield
    connections.close_all()
    default.update(direct)
    # The pooler still holds server connections to the test database; end
    # them so that pytest-django's DROP DATABASE (direct) can proceed.
    with psycopg.connect(
        host=direct["HOST"],
        port=direct["PORT"],
        user=direct["USER"],
        password=direct["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [default["NAME"]],
        )
    settings.DIRECT_DATABASE = {**direct}


@pytest.fixture(autouse=True)
def _sqlite_flush_owes_no_deletes(request: pytest.FixtureRequest) -> None:
    """On SQLite, start each database test with no owed deletes.

    Between transactional tests Django empties the tables with DELETE
    (PostgreSQL: TRUNCATE, which fires no row trigger), so the SQLite
    storage_objects_deleted trigger owes the flushed objects' blobs again:
    the next test would find StorageDeletion rows it never caused.
    """
    if on_postgres() or not touches_database(request.node):
        return
    request.getfixturevalue("django_db_setup")
    from files.models import StorageDeletion

    with request.getfixturevalue("django_db_blocker").unblock():
        StorageDeletion.objects.all().delete()


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    from accounts.models import User

    def make(email: str | None = None, *, verified: bool = True, **fields: Any) -> User:
        """A user; ``verified``: with their address confirmed, as anyone who may start runs must be."""
        from accounts.services import email_mark_verified

        email = email or f"user{next(_counter)}@example.com"
        user = User.objects.create_user(email=email, password="pw-not-used", **fields)
        if verified:
            email_mark_verified(user_id=user.id, email=user.email)
        return user

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
