"""The row level security system check (versatools.checks)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from versatools.checks import bare_auth_calls, check_row_level_security

pytestmark = pytest.mark.django_db


def error_ids() -> list[tuple[str, str]]:
    return [(message.id, message.msg) for message in check_row_level_security()]


def execute(*statements: str) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def test_the_migrated_schema_passes() -> None:
    assert error_ids() == []
    call_command("check", "--fail-level", "ERROR")


def test_a_table_created_without_rls_fails_manage_py_check() -> None:
    execute("CREATE TABLE public.rls_probe (id int PRIMARY KEY)")

    assert [id for id, _ in error_ids()] == ["versatools.E001"]
    assert "public.rls_probe" in error_ids()[0][1]
    with pytest.raises(SystemCheckError, match=r"versatools\.E001.*rls_probe"):
        call_command("check")


def test_a_user_owned_table_without_an_owner_policy_fails() -> None:
    execute(
        "CREATE TABLE public.rls_probe (id int PRIMARY KEY, user_id uuid)",
        "ALTER TABLE public.rls_probe ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY rls_probe_server ON public.rls_probe FOR ALL TO service_role USING (true)",
    )

    assert error_ids() == [
        (
            "versatools.E002",
            "User-owned table public.rls_probe has no policy for authenticated that compares with auth.uid().",
        )
    ]


def test_an_owner_policy_makes_the_user_owned_table_pass() -> None:
    execute(
        "CREATE TABLE public.rls_probe (id int PRIMARY KEY, user_id uuid)",
        "ALTER TABLE public.rls_probe ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY rls_probe_own ON public.rls_probe FOR SELECT TO authenticated"
        " USING (user_id = (SELECT auth.uid()))",
    )

    assert error_ids() == []


@pytest.mark.parametrize(
    "table",
    [
        "account_emailaddress",
        "account_emailconfirmation",
        "socialaccount_socialaccount",
        "socialaccount_socialtoken",
        "socialaccount_socialapp",
    ],
)
def test_allauths_tables_without_rls_fail_the_check(table: str) -> None:
    execute(f"ALTER TABLE public.{table} DISABLE ROW LEVEL SECURITY")

    assert [id for id, message in error_ids() if f"public.{table} " in message] == ["versatools.E001"]


@pytest.mark.parametrize("table", ["account_emailaddress", "socialaccount_socialaccount"])
def test_allauths_user_owned_tables_without_their_owner_policy_fail_the_check(table: str) -> None:
    execute(f"DROP POLICY {table}_select_own ON public.{table}")

    assert [id for id, _ in error_ids()] == ["versatools.E002"]
    assert f"public.{table} " in error_ids()[0][1]


@pytest.mark.parametrize(
    "table,column",
    [("socialaccount_socialtoken", "id"), ("account_emailconfirmation", "id"), ("django_session", "expire_date")],
)
def test_a_grant_on_a_table_of_secrets_fails_the_check_even_without_a_policy(table: str, column: str) -> None:
    # One harmless-looking column is enough: column grants count too.
    execute(
        f"GRANT SELECT ({column}) ON public.{table} TO authenticated", f"GRANT DELETE ON public.{table} TO service_role"
    )

    assert error_ids() == [
        (
            "versatools.E004",
            f"Table public.{table} holds secrets only Django reads, yet authenticated has privileges on it.",
        ),
        (
            "versatools.E004",
            f"Table public.{table} holds secrets only Django reads, yet service_role has privileges on it.",
        ),
    ]


def test_a_policy_calling_auth_uid_bare_fails() -> None:
    execute(
        "CREATE TABLE public.rls_probe (id int PRIMARY KEY, user_id uuid)",
        "ALTER TABLE public.rls_probe ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY rls_probe_own ON public.rls_probe FOR SELECT TO authenticated USING (auth.uid() = user_id)",
    )

    assert [id for id, _ in error_ids()] == ["versatools.E003"]
    assert "rls_probe_own" in error_ids()[0][1]


@pytest.mark.parametrize(
    "expression,bare",
    [
        ("(user_id = ( SELECT auth.uid() AS uid))", []),
        ("((( SELECT auth.jwt() AS jwt) ->> 'role'::text) = 'admin'::text)", []),
        ("(( SELECT (auth.jwt() ->> 'role'::text)) = 'x'::text)", []),
        ("(auth.uid() = user_id)", ["auth.uid()"]),
        ("((user_id = ( SELECT auth.uid() AS uid)) OR (auth.role() = 'service_role'::text))", ["auth.role()"]),
        ("(note = '( SELECT '::text) AND (auth.uid() = user_id)", ["auth.uid()"]),
        ("true", []),
        (None, []),
    ],
)
def test_bare_auth_calls_are_told_from_wrapped_ones(expression: str | None, bare: list[str]) -> None:
    assert bare_auth_calls(expression) == bare


# --- The pooled URL and the app's role ------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "told", "flagged"),
    [
        ("aws-0-eu-central-1.pooler.supabase.com", "6543", False, True),
        ("db.internal", "6543", False, True),
        ("aws-0-eu-central-1.pooler.supabase.com", "6000", False, True),
        ("aws-0-eu-central-1.pooler.supabase.com", "5432", False, False),  # session mode
        ("db.abcdefgh.supabase.co", "5432", False, False),  # direct
        ("aws-0-eu-central-1.pooler.supabase.com", "6543", True, False),
    ],
)
def test_a_pooled_url_without_pgbouncer_true_fails(monkeypatch, host, port, told, flagged) -> None:
    from django.db import connections

    from versatools.checks import check_pooled_url_says_pgbouncer
    from versatools.config import database_from_url

    url = f"postgres://app:pw@{host}:{port}/postgres" + ("?pgbouncer=true" if told else "")
    monkeypatch.setattr(connections["default"], "settings_dict", database_from_url("DATABASE_URL", url, conn_max_age=0))

    errors = check_pooled_url_says_pgbouncer()

    assert [error.id for error in errors] == (["versatools.E005"] if flagged else [])


def test_in_production_a_role_that_bypasses_rls_is_warned_about(settings) -> None:
    from versatools.checks import check_app_role_does_not_bypass_rls

    settings.PRODUCTION = True
    assert [w.id for w in check_app_role_does_not_bypass_rls()] == ["versatools.W003"]  # the suite's superuser

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL ROLE authenticated")  # a role without BYPASSRLS, for this test's transaction
    assert check_app_role_does_not_bypass_rls() == []

    settings.PRODUCTION = False
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    assert check_app_role_does_not_bypass_rls() == []


def test_the_pooled_url_check_runs_with_every_manage_py_check() -> None:
    from django.core.checks import registry

    from versatools.checks import check_pooled_url_says_pgbouncer

    # Untagged: a check tagged "database" would run only with --database.
    assert check_pooled_url_says_pgbouncer in registry.registry.get_checks(include_deployment_checks=False)
    assert not getattr(check_pooled_url_says_pgbouncer, "tags", ())
