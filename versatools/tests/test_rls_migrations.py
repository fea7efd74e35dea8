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
    # allauth's secrets (confirmation keys, OAuth clients, tokens): no API role, service_role included.
    "account_emailconfirmation",
    "socialaccount_socialapp",
    "socialaccount_socialtoken",
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
    # allauth's: a user reads their own addresses and linked providers, never tokens.
    "account_emailaddress",
    "socialaccount_socialaccount",
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
    assert by_role["anon"] == {("plans", "SELECT"), ("features", "SELECT")}
    assert by_role["authenticated"] == (
        {
            (table, "SELECT")
            for table in OWNER_READ_TABLES
            | {"history", "plans", "features", "tool_statistics", "tool_usage_events", "admin_settings"}
        }
        | {("history", "DELETE")}
    )
    service = {(name, p) for r, name, p in granted if r == "service_role" and name in tables}
    # subscription_events is append-only (sql/triggers/subscription_events_append_only.sql): read and add only.
    assert service == {(t, p) for t in tables - DJANGO_TABLES for p in ("SELECT", "INSERT", "UPDATE", "DELETE")} - {
        ("subscription_events", "UPDATE"),
        ("subscription_events", "DELETE"),
    }
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
    assert applied["auth"]["role"].startswith("versatools:") and "jwt" not in applied["auth"]
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
    assert set(plain["auth"]) == {"uid", "role"}
    assert_least_privilege(dsn)

    # 4. Zero again removes the stand-in schema; 5. and forward once more.
    migrate_to_zero(env)
    assert query(dsn, "SELECT to_regnamespace('auth')")[0][0] is None
    assert state(dsn)["tables"] == {"django_migrations"}
    migrate(env)
    again = state(dsn)
    assert again["without_rls"] == set()
    assert (again["policies"], again["triggers"]) == (applied["policies"], applied["triggers"])


# Supabase's own layout before this project migrates: the auth server's role
# owns the auth schema, its auth.uid() and auth.users (the columns the link
# uses), and one person has signed up already.
SUPABASE_WITH_AUTH_USERS = """
DO $$ BEGIN
    CREATE ROLE supabase_auth_admin NOLOGIN NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
CREATE SCHEMA auth AUTHORIZATION supabase_auth_admin;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
SET ROLE supabase_auth_admin;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
CREATE TABLE auth.users (
    instance_id uuid, id uuid PRIMARY KEY, aud varchar(255), role varchar(255), email varchar(255),
    email_confirmed_at timestamptz, raw_app_meta_data jsonb, raw_user_meta_data jsonb,
    created_at timestamptz, updated_at timestamptz
);
INSERT INTO auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at)
VALUES ('11111111-1111-4111-8111-111111111111', 'authenticated', 'authenticated', 'early@example.com',
        '{"full_name": "Early Bird"}', now(), now());
RESET ROLE;
"""

# What Supabase's auth server does to these objects when it migrates (its
# own migrations, run as supabase_auth_admin): replace the helper functions,
# create what is missing. Any of ours in the way fails it ("must be owner").
AUTH_SERVER_MIGRATES = """
SET ROLE supabase_auth_admin;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.role', true), '')::text $$;
CREATE OR REPLACE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.email', true), '')::text $$;
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb $$;
CREATE TABLE IF NOT EXISTS auth.users (id uuid PRIMARY KEY);
RESET ROLE;
"""

LINKED = (
    "SELECT (SELECT count(*) FROM pg_constraint WHERE conname = 'users_id_auth_users_fkey'),"
    " (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND NOT tgisinternal)"
)


def test_supabase_mode_links_users_to_auth_and_never_blocks_the_auth_server(
    scratch: tuple[str, dict[str, str]],
) -> None:
    dsn, env = scratch
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SUPABASE_WITH_AUTH_USERS)

    migrate(env)
    assert query(dsn, LINKED) == [(1, 2)]
    early = "11111111-1111-4111-8111-111111111111"
    assert query(dsn, f"SELECT email, name FROM users WHERE id = '{early}'") == [("early@example.com", "Early Bird")]
    # The catalog arrives after the migration: the backfilled user starts on the default plan then.
    catalog = run_manage("load_catalog", env=env)
    assert "1 earlier user(s) started on the default plan" in catalog.stdout, catalog.stderr
    assert query(dsn, f"SELECT count(*) FROM credit_ledger WHERE user_id = '{early}'") == [(1,)]

    # The auth server migrates after us and signs someone up, as itself.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(AUTH_SERVER_MIGRATES)
        conn.execute("SET ROLE supabase_auth_admin")
        conn.execute(
            "INSERT INTO auth.users (id, aud, role, email, created_at, updated_at) VALUES"
            " ('22222222-2222-4222-8222-222222222222', 'authenticated', 'authenticated', 'new@example.com',"
            " now(), now())"
        )
    assert query(
        dsn,
        "SELECT u.email, p.key, b.credits_remaining FROM users u JOIN subscriptions s ON s.user_id = u.id"
        " JOIN plans p ON p.id = s.plan_id JOIN credit_balances b ON b.user_id = u.id"
        " WHERE u.id = '22222222-2222-4222-8222-222222222222'",
    ) == [("new@example.com", "free", 20)]
    assert_least_privilege(dsn)

    # Control: an auth function the migrating role owns does stop the auth server.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER FUNCTION auth.email() OWNER TO postgres")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner of function email"):
            conn.execute(AUTH_SERVER_MIGRATES)
        conn.execute("RESET ROLE")
        conn.execute("ALTER FUNCTION auth.email() OWNER TO supabase_auth_admin")

    # Down to zero: the link goes, Supabase's users and functions stay; up again links again.
    migrate_to_zero(env)
    assert query(dsn, LINKED) == [(0, 0)]
    assert query(dsn, "SELECT count(*) FROM auth.users") == [(2,)]
    assert {row[0] for row in query(dsn, "SELECT proname FROM pg_proc WHERE pronamespace = 'auth'::regnamespace")} == {
        "uid",
        "role",
        "email",
        "jwt",
    }
    migrate(env)
    assert query(dsn, LINKED) == [(1, 2)]
