"""System check: the public schema stays closed to Supabase's Data API.

Every table in ``public`` is reachable through PostgREST unless row level
security says otherwise, and on Supabase new tables are granted to ``anon``
and ``authenticated`` by default. This check (``manage.py check``, PostgreSQL
only) fails when:

- a public table has RLS disabled (Supabase's linter rule 0013),
- a user-owned table (a ``user_id`` column, or ``users``) has no policy for
  ``authenticated`` comparing with ``auth.uid()``,
- a policy calls ``auth.uid()`` (or ``auth.role()``/``auth.jwt()``) bare
  instead of ``(SELECT auth.uid())``, which PostgreSQL re-evaluates per row,
- an API role holds any privilege on a table of secrets only Django reads
  (``SECRET_TABLES``), whatever its policies say.

It judges a migrated schema only: while migrations are pending it stays quiet,
because ``migrate`` runs the checks before it installs the policies.
"""

from __future__ import annotations

import re
from typing import Any

from django.core import checks
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

# Tables with a user_id that deliberately have no policy at all: Django's
# operator plumbing, never read through the API (RLS on, no grants).
PRIVATE_USER_TABLES = frozenset({"django_admin_log", "users_groups", "users_user_permissions"})
# Secrets only Django reads: session keys, OAuth providers' tokens, OAuth
# client secrets, email confirmation keys (which verify an address). No API
# role, service_role included, may hold any privilege on them.
SECRET_TABLES = (
    "django_session",
    "socialaccount_socialtoken",
    "socialaccount_socialapp",
    "account_emailconfirmation",
)
API_ROLES = ("anon", "authenticated", "service_role")

_TABLES_WITHOUT_RLS = """
    SELECT c.relname
    FROM pg_catalog.pg_class c
    WHERE c.relnamespace = 'public'::regnamespace
      AND c.relkind IN ('r', 'p')
      AND NOT c.relrowsecurity
      -- Tables an extension owns (PostGIS's spatial_ref_sys) are not ours to alter.
      AND NOT EXISTS (
          SELECT FROM pg_catalog.pg_depend d
          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
      )
    ORDER BY c.relname
"""

_USER_TABLES_WITHOUT_OWNER_POLICY = """
    SELECT c.relname
    FROM pg_catalog.pg_class c
    WHERE c.relnamespace = 'public'::regnamespace
      AND c.relkind IN ('r', 'p')
      AND NOT c.relispartition
      AND (c.relname = 'users' OR EXISTS (
          SELECT FROM pg_catalog.pg_attribute a
          WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped
      ))
      AND NOT EXISTS (
          SELECT FROM pg_catalog.pg_policies p
          WHERE p.schemaname = 'public' AND p.tablename = c.relname
            AND p.roles && ARRAY['authenticated', 'public']::name[]
            AND concat_ws(' ', p.qual, p.with_check) LIKE '%auth.uid()%'
      )
    ORDER BY c.relname
"""

_POLICIES = """
    SELECT tablename, policyname, qual, with_check
    FROM pg_catalog.pg_policies
    WHERE schemaname = 'public'
    ORDER BY tablename, policyname
"""

_SECRET_TABLE_GRANTS = """
    SELECT c.relname, r.rolname
    FROM pg_catalog.pg_class c CROSS JOIN pg_catalog.pg_roles r
    WHERE c.relnamespace = 'public'::regnamespace
      AND c.relname = ANY(%(tables)s)
      AND r.rolname = ANY(%(roles)s)
      AND (has_table_privilege(r.oid, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
           OR has_any_column_privilege(r.oid, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))
    ORDER BY c.relname, r.rolname
"""

_AUTH_CALL = re.compile(r"auth\.(uid|role|jwt)\(\)")


def bare_auth_calls(expression: str | None) -> list[str]:
    """The ``auth.*()`` calls in a deparsed policy expression not inside a ``SELECT``.

    PostgreSQL deparses ``(select auth.uid())`` as ``( SELECT auth.uid() AS uid)``;
    a call is wrapped when any parenthesis around it opens a ``SELECT``.
    """
    if not expression:
        return []
    bare = []
    stack: list[bool] = []  # one entry per open parenthesis: does it open a SELECT?
    position = 0
    while position < len(expression):
        match = _AUTH_CALL.match(expression, position)
        if match:
            if not any(stack):
                bare.append(match.group(0))
            position = match.end()
            continue
        char = expression[position]
        if char == "(":
            stack.append(bool(re.match(r"\(\s*SELECT\b", expression[position:], re.IGNORECASE)))
        elif char == ")" and stack:
            stack.pop()
        elif char == "'":  # skip string literals: their parentheses are text
            end = expression.find("'", position + 1)
            position = len(expression) if end == -1 else end
        position += 1
    return bare


def _migrations_pending(connection: Any) -> bool:
    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


@checks.register()
def check_row_level_security(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        return []
    try:
        if _migrations_pending(connection):
            return []
        with connection.cursor() as cursor:
            cursor.execute(_TABLES_WITHOUT_RLS)
            without_rls = [row[0] for row in cursor.fetchall()]
            cursor.execute(_USER_TABLES_WITHOUT_OWNER_POLICY)
            without_owner_policy = [row[0] for row in cursor.fetchall() if row[0] not in PRIVATE_USER_TABLES]
            cursor.execute(_POLICIES)
            policies = cursor.fetchall()
            cursor.execute(_SECRET_TABLE_GRANTS, {"tables": list(SECRET_TABLES), "roles": list(API_ROLES)})
            secrets_granted = cursor.fetchall()
    except DatabaseError as exc:
        return [
            checks.Warning(
                f"Could not check row level security: {exc}".strip(),
                hint="Run `manage.py check` where the database is reachable.",
                id="versatools.W001",
            )
        ]

    errors: list[checks.CheckMessage] = [
        checks.Error(
            f"Table public.{table} has row level security disabled: Supabase's Data API can read it.",
            hint=f"Enable RLS in a sql/rls/ file applied by the owning app's migration "
            f"(ALTER TABLE public.{table} ENABLE ROW LEVEL SECURITY), with policies if the API needs it.",
            id="versatools.E001",
        )
        for table in without_rls
    ]
    errors += [
        checks.Error(
            f"User-owned table public.{table} has no policy for authenticated that compares with auth.uid().",
            hint="Add an owner policy, e.g. FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid())), "
            "or list the table in versatools.checks.PRIVATE_USER_TABLES if the API must never see it.",
            id="versatools.E002",
        )
        for table in without_owner_policy
    ]
    errors += [
        checks.Error(
            f"Table public.{table} holds secrets only Django reads, yet {role} has privileges on it.",
            hint=f"REVOKE ALL ON TABLE public.{table} FROM {role} (see sql/rls/).",
            id="versatools.E004",
        )
        for table, role in secrets_granted
    ]
    for table, policy, qual, with_check in policies:
        calls = bare_auth_calls(qual) + bare_auth_calls(with_check)
        if calls:
            errors.append(
                checks.Error(
                    f"Policy {policy} on public.{table} calls {', '.join(sorted(set(calls)))} bare: "
                    "PostgreSQL evaluates it once per row.",
                    hint="Wrap it in a subquery, (SELECT auth.uid()), so it is evaluated once per statement.",
                    id="versatools.E003",
                )
            )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_mail_is_delivered(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Production without EMAIL_URL prints verification and reset mail to the log: nobody can verify."""
    from django.conf import settings

    if not settings.PRODUCTION or settings.EMAIL_URL:
        return []
    return [
        checks.Warning(
            "EMAIL_URL is not set: verification and password-reset mail goes to the server's log, so new "
            "users cannot verify their address and may not start runs.",
            hint="Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587.",
            id="versatools.W002",
        )
    ]


# Supabase's pooler (Supavisor) listens in transaction mode on 6543 (session
# mode, where prepared statements work, on 5432); its hosts are *.pooler.supabase.com.
TRANSACTION_POOLER_PORT = "6543"
SESSION_PORT = "5432"


@checks.register()
def check_pooled_url_says_pgbouncer(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A pooled DATABASE_URL without ?pgbouncer=true: prepared statements and server-side cursors would break.

    Read from the connection settings (``versatools.config.database_from_url``
    turns ``pgbouncer=true`` into no server-side cursors and no prepared
    statements), so no database is needed.
    """
    config = connections[DEFAULT_DB_ALIAS].settings_dict
    if config.get("ENGINE") != "django.db.backends.postgresql":
        return []
    host, port = str(config.get("HOST") or ""), str(config.get("PORT") or "")
    pooled = port == TRANSACTION_POOLER_PORT or ("pooler" in host and port != SESSION_PORT)
    told = config.get("DISABLE_SERVER_SIDE_CURSORS") and config.get("OPTIONS", {}).get("prepare_threshold", 5) is None
    if not pooled or told:
        return []
    return [
        checks.Error(
            f"DATABASE_URL points at a connection pooler ({host}:{port}) but does not say ?pgbouncer=true: in "
            "transaction mode prepared statements and server-side cursors fail on another server connection.",
            hint='Append ?pgbouncer=true to DATABASE_URL (README "Configuration").',
            id="versatools.E005",
        )
    ]


_ROLE_BYPASSES_RLS = "SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user"


@checks.register(checks.Tags.security, deploy=True)
def check_app_role_does_not_bypass_rls(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """In production, the role Django serves requests as should not be a superuser or bypass RLS.

    The API's reads switch to ``authenticated`` for their transaction
    (versatools.rls), where the policies hold whatever the login role is;
    but every other query runs as the login role, and one that forgets its
    ``user_id`` filter is then checked by nothing. A deploy check: a warning.
    """
    from django.conf import settings

    connection = connections[DEFAULT_DB_ALIAS]
    if not settings.PRODUCTION or connection.vendor != "postgresql":
        return []
    try:
        with connection.cursor() as cursor:
            cursor.execute(_ROLE_BYPASSES_RLS)
            row = cursor.fetchone()
    except DatabaseError as exc:
        return [checks.Warning(f"Could not read the database role: {exc}".strip(), id="versatools.W001")]
    if not row or not row[0]:
        return []
    return [
        checks.Warning(
            "The database role the app serves requests as is a superuser or has BYPASSRLS: row level security "
            "protects only the reads that switch to authenticated.",
            hint="Serve requests as a role without BYPASSRLS that owns the tables (RLS is not forced on owners), "
            "and keep a superuser for migrations only (DIRECT_URL).",
            id="versatools.W003",
        )
    ]
