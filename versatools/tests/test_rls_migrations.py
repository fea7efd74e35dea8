"""The RLS migrations apply, reverse to zero and apply again on PostgreSQL.

Runs ``manage.py`` in subprocesses against a scratch database created and
dropped here. The first pass starts from a database that already has a
Supabase-like ``auth`` schema, which must be used and never replaced or
dropped; the second from plain PostgreSQL, where the stand-ins are ours.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings

from versatools.tests.test_settings import clean_env, run_manage

# manage.py migrate in subprocesses, down to zero and back: tens of seconds.
pytestmark = pytest.mark.slow

# Unapplying these in order takes every app to zero: accounts takes along
# everything that depends on users (admin, billing, history, stats, files and
# the versatools RLS migration), the contrib apps follow.
ZERO_ORDER = ("accounts", "versatools", "auth", "contenttypes", "sessions")
MIGRATE_ALL_TO_ZERO = "\n".join(
    ["from django.core.management import call_command"]
    + [f"call_command('migrate', {app!r}, 'zero', interactive=False, verbosity=0)" for app in ZERO_ORDER]
)

# What Supabase has before our first migration: its own auth.uid(), and
# default privileges that grant ALL on every new public object to its API roles.
SUPABASE_LIKE = """
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
CREATE SCHEMA auth;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid /* supabase's own */ $$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
"""


@pytest.fixture
def scratch() -> Iterator[tuple[str, dict[str, str]]]:
    default = settings.DATABASES["default"]
    admin_dsn = f"host={default['HOST']} port={default['PORT']} user={default['USER']} dbname=postgres"
    name = f"versatools_rls_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgres://{default['USER']}@{default['HOST']}:{default['PORT']}/{name}"
        yield admin_dsn.replace("dbname=postgres", f"dbname={name}"), clean_env(DATABASE_URL=url)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def state(dsn: str) -> dict[str, object]:
    """What the migrations are responsible for, read straight from the catalog."""
    return {
        "tables": {row[0] for row in query(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")},
        "without_rls": {
            row[0]
            for row in query(
                dsn,
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                " AND relkind = 'r' AND NOT relrowsecurity",
            )
        },
        "policies": query(dsn, "SELECT count(*) FROM pg_policies")[0][0],
        "triggers": query(dsn, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%_set_updated_at'")[0][0],
        "auth": {
            row[0]: row[1]
            for row in query(
                dsn,
                "SELECT proname, coalesce(obj_description(oid, 'pg_proc'), '') FROM pg_proc"
                " WHERE pronamespace = to_regnamespace('auth')",
            )
        },
        "auth_schema": query(dsn, "SELECT obj_description(to_regnamespace('auth'), 'pg_namespace')")[0][0]
        if query(dsn, "SELECT to_regnamespace('auth')")[0][0]
        else None,
        "roles": {
            row[0]
            for row in query(
                dsn, "SELECT rolname FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')"
            )
        },
    }


DJANGO_TABLES = {
    "django_migrations",
    "django_session",
    "django_content_type",
    "django_admin_log",
    "auth_permission",
    "auth_group",
    "auth_group_permissions",
    "users_groups",
    "users_user_permissions",
}
OWNER_READ_TABLES = {
    "user_stats",
    "user_daily_usage",
    "storage_objects",
    "subscriptions",
    "subscription_events",
    "credit_balances",
    "credit_ledger",
    "usage_counters",
}


def privileges(dsn: str) -> set[tuple[str, str, str]]:
    """(role, object, privilege) for every table, sequence and our functions in public."""
    granted = query(
        dsn,
        "SELECT role, c.relname, p FROM pg_class c, unnest(ARRAY['anon', 'authenticated', 'service_role']) role,"
        " unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND has_table_privilege(role, c.oid, p)"
        " UNION ALL SELECT role, c.relname, p FROM pg_class c, unnest(ARRAY['anon', 'authenticated', 'service_role'])"
        " role, unnest(ARRAY['USAGE', 'UPDATE']) p WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'"
        " AND has_sequence_privilege(role, c.oid, p)"
        " UNION ALL SELECT role, proname, 'EXECUTE' FROM pg_proc,"
        " unnest(ARRAY['anon', 'authenticated', 'service_role']) role"
        " WHERE pronamespace = 'public'::regnamespace AND has_function_privilege(role, oid, 'EXECUTE')",
    )
    return {(role, name, privilege) for role, name, privilege in granted}


def assert_least_privilege(dsn: str) -> None:
    granted = privileges(dsn)
    tables = state(dsn)["tables"]
    by_role = {role: {(name, p) for r, name, p in granted if r == role} for role in ("anon", "authenticated")}
    assert by_role["anon"] == {("plans", "SELECT")}
    assert by_role["authenticated"] == (
        {(table, "SELECT") for table in OWNER_READ_TABLES | {"history", "plans", "tool_statistics", "admin_settings"}}
        | {("history", "DELETE")}
    )
    service = {(name, p) for r, name, p in granted if r == "service_role" and name in tables}
    assert service == {(t, p) for t in tables - DJANGO_TABLES for p in ("SELECT", "INSERT", "UPDATE", "DELETE")}
    assert not {name for r, name, p in granted if r == "service_role" and name not in tables and p == "EXECUTE"}
    columns = query(
        dsn,
        "SELECT privilege_type, array_agg(column_name::text ORDER BY column_name)"
        " FROM information_schema.column_privileges WHERE grantee = 'authenticated' AND table_name = 'users'"
        " GROUP BY privilege_type ORDER BY privilege_type",
    )
    assert dict(columns)["UPDATE"] == ["image", "name"]
    assert "password" not in dict(columns)["SELECT"] and "email" in dict(columns)["SELECT"]


def migrate(env: dict[str, str]) -> None:
    result = run_manage("migrate", "--noinput", env=env)
    assert result.returncode == 0, result.stderr


def migrate_to_zero(env: dict[str, str]) -> None:
    result = run_manage("shell", "-c", MIGRATE_ALL_TO_ZERO, env=env)
    assert result.returncode == 0, result.stderr


def test_migrations_apply_reverse_to_zero_and_apply_again(scratch: tuple[str, dict[str, str]]) -> None:
    dsn, env = scratch
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SUPABASE_LIKE)

    # 1. On a Supabase-like database: its auth.uid() is used, the missing ones are added.
    migrate(env)
    applied = state(dsn)
    assert "users" in applied["tables"] and applied["without_rls"] == set()
    assert applied["policies"] >= 20 and applied["triggers"] >= 10
    assert applied["auth"]["uid"] == ""  # untouched: not ours
    assert applied["auth"]["role"].startswith("versatools:") and applied["auth"]["jwt"].startswith("versatools:")
    assert "supabase's own" in query(dsn, "SELECT prosrc FROM pg_proc WHERE oid = 'auth.uid()'::regprocedure")[0][0]
    # Supabase's default grants are gone; what is left is what the policies need.
    assert_least_privilege(dsn)
    check = run_manage("check", "--fail-level", "ERROR", env=env)
    assert check.returncode == 0, check.stderr

    # 2. Back to zero: only what we created goes.
    migrate_to_zero(env)
    emptied = state(dsn)
    assert emptied["tables"] == {"django_migrations"}
    assert (emptied["policies"], emptied["triggers"]) == (0, 0)
    assert emptied["auth"] == {"uid": ""}  # Supabase's stays, ours are gone
    assert emptied["auth_schema"] is None  # the schema was not ours: kept, uncommented
    assert emptied["roles"] == {"anon", "authenticated", "service_role"}  # cluster-wide: kept

    # 3. On plain PostgreSQL: the auth schema and its functions are ours.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA auth CASCADE")
    migrate(env)
    plain = state(dsn)
    assert plain["without_rls"] == set() and plain["policies"] == applied["policies"]
    assert str(plain["auth_schema"]).startswith("versatools:")
    assert set(plain["auth"]) == {"uid", "role", "jwt"}
    assert_least_privilege(dsn)

    # 4. Zero again removes the stand-in schema; 5. and forward once more.
    migrate_to_zero(env)
    assert query(dsn, "SELECT to_regnamespace('auth')")[0][0] is None
    assert state(dsn)["tables"] == {"django_migrations"}
    migrate(env)
    again = state(dsn)
    assert again["without_rls"] == set()
    assert (again["policies"], again["triggers"]) == (applied["policies"], applied["triggers"])
