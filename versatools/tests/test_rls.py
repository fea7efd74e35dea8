"""Row level security, proven against the real Supabase roles on PostgreSQL.

Each case acts as one of Supabase's API roles the way PostgREST does (a
transaction-local ``role`` and ``request.jwt.claims``), inside a savepoint
that is rolled back afterwards, and runs one statement against one table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from allauth.account.models import EmailAddress, EmailConfirmation
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.models import User
from billing.models import (
    AdminSettings,
    CreditBalance,
    CreditLedgerEntry,
    Plan,
    Subscription,
    SubscriptionEvent,
    UsageCounter,
)
from files.models import StorageDeletion, StorageObject
from history.models import History
from stats.models import DailyToolUsage, ToolStatistics, ToolUsageEvent, UserDailyUsage, UserStats
from tools.models import Feature

pytestmark = pytest.mark.django_db

INSUFFICIENT_PRIVILEGE = "42501"  # permission denied, and "new row violates row-level security policy"

# --- acting as a role -------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    user: str | None = None  # "A" or "B": whose JWT
    without_bypassrls: bool = False  # service_role as created by a non-superuser


ANON = Actor("anon", "anon")
USER_A = Actor("user A", "authenticated", "A")
USER_B = Actor("user B", "authenticated", "B")
SERVICE = Actor("service_role", "service_role")
# Supabase's service_role has BYPASSRLS; where a non-superuser created it, it
# has not, and the explicit service_role policies must carry it instead.
SERVICE_NO_BYPASS = Actor("service_role without BYPASSRLS", "service_role", without_bypassrls=True)
ACTORS = [ANON, USER_A, USER_B, SERVICE, SERVICE_NO_BYPASS]


class Denied(Exception):
    """PostgreSQL refused the statement (SQLSTATE 42501)."""


class _Undo(Exception):
    def __init__(self, result: Any) -> None:
        self.result = result


def set_role(role: str, claims: dict[str, Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            [role, json.dumps(claims)],
        )


def claims_for(actor: Actor, world: World) -> dict[str, Any]:
    claims: dict[str, Any] = {"role": actor.role}
    if actor.user:
        claims["sub"] = str(world.users[actor.user].pk)
    return claims


def as_actor(actor: Actor, world: World, statement: Callable[[Any], Any], *, before: str | None = None) -> Any:
    """Run ``statement(cursor)`` as ``actor`` in a savepoint that is always rolled back.

    Returns its result, or raises Denied when PostgreSQL refuses it. ``before``
    is SQL run first as Django's own role (making room for a singleton).
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if before:
                cursor.execute(before)
            if actor.without_bypassrls:
                cursor.execute("ALTER ROLE service_role NOBYPASSRLS")
            set_role(actor.role, claims_for(actor, world))
            raise _Undo(statement(cursor))
    except _Undo as undo:
        return undo.result
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
            raise Denied(str(exc)) from exc
        raise


def rows(cursor: Any) -> set[str]:
    return {row[0] for row in cursor.fetchall()}


@contextmanager
def acting(actor: Actor, world: World) -> Iterator[Any]:
    """For the named tests: act as ``actor`` until the block ends, then roll back."""
    with pytest.raises(_Undo), transaction.atomic(), connection.cursor() as cursor:
        set_role(actor.role, claims_for(actor, world))
        yield cursor
        raise _Undo(None)


# --- the world every case starts from ----------------------------------------


@dataclass
class World:
    users: dict[str, User]
    # table -> {key: owner label ("A", "B", "C") or None for global rows}
    owners: dict[str, dict[str, str | None]] = field(default_factory=dict)


@pytest.fixture
def world(db: Any) -> World:
    now = timezone.now()
    users = {label: User.objects.create_user(email=f"rls-{label.lower()}@example.com") for label in "ABC"}
    a, b = users["A"], users["B"]
    active = Plan.objects.create(key="rls-active", name="Active", credits=10, active=True)
    Plan.objects.create(key="rls-retired", name="Retired", credits=10, active=False)
    Feature.objects.create(tool_id="rls-offered", name="Offered", active=True)
    Feature.objects.create(tool_id="rls-switched-off", name="Switched off", active=False)
    ToolStatistics.objects.create(tool_id="rls-tool", runs=3)
    DailyToolUsage.objects.create(day=now.date(), tool_id="rls-tool", runs=3)
    ToolUsageEvent.objects.create(day=now.date(), tool_id="rls-tool", runs=1)
    AdminSettings.objects.get_or_create(id=AdminSettings.SINGLETON_ID)
    StorageDeletion.objects.create(provider="filesystem", key="rls/owed-a-delete.pdf")
    group = Group.objects.create(name="rls-group")
    permission = Permission.objects.first()
    group.permissions.add(permission)
    SocialApp.objects.create(provider="github", name="rls", client_id="rls-client", secret="rls-client-secret")
    for label, user in (("A", a), ("B", b)):
        run = History.objects.create(
            user=user,
            tool_id="pdf-merge",
            tool_name="PDF Merger",
            input_file_name="in.pdf",
            idempotency_key="k",
            status="COMPLETED",
        )
        StorageObject.objects.create(
            user=user,
            run=run,
            key=f"{user.pk}/input/{uuid.uuid4()}.pdf",
            original_name="in.pdf",
            content_type="application/pdf",
            size=1,
            expires_at=now + timedelta(hours=1),
        )
        UserStats.objects.update_or_create(user=user, defaults={"total_used": 1})
        UserDailyUsage.objects.create(user=user, day=now.date(), tool_id="pdf-merge", runs=1)
        Subscription.objects.update_or_create(user=user, defaults={"plan": active})
        SubscriptionEvent.objects.create(
            user=user, plan_key="rls-active", status="active", event_type="created", occurred_at=now
        )
        CreditBalance.objects.update_or_create(user=user, defaults={"credits_remaining": 5})
        CreditLedgerEntry.objects.create(user=user, operation_type="grant", credits=-5, idempotency_key=f"g-{label}")
        UsageCounter.objects.create(
            user=user, metric="runs", count=1, window_start=now, window_end=now + timedelta(days=1)
        )
        Session.objects.create(session_key=f"rls-session-{label}", session_data="x", expire_date=now)
        LogEntry.objects.create(user=user, object_repr=label, action_flag=ADDITION)
        user.groups.add(group)
        user.user_permissions.add(permission)
        address = EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        EmailConfirmation.objects.create(email_address=address, key=f"rls-confirmation-key-{label}")
        account = SocialAccount.objects.create(user=user, provider="github", uid=f"rls-{label}")
        SocialToken.objects.create(account=account, token=f"rls-provider-token-{label}")

    result = World(users=users)
    label_of = {str(user.pk): label for label, user in users.items()}
    with connection.cursor() as cursor:
        for table, spec in SPECS.items():
            owner = spec.owner_column or "NULL"
            cursor.execute(f"SELECT {spec.key}::text, {owner}::text FROM public.{table}")
            result.owners[table] = {
                key: label_of.get(owner_id) if owner_id else None for key, owner_id in cursor.fetchall()
            }
        # Every table holds rows, and every user-owned one rows of both A and
        # B, so that "all rows" or "own rows" can never pass by seeing nothing.
        for table, spec in SPECS.items():
            assert result.owners[table], table
            if spec.owner_column:
                assert {"A", "B"} <= set(result.owners[table].values()), table
    return result


# --- what each table allows ---------------------------------------------------

DENIED = "denied"
OWN = "own rows"
ALL = "all rows"
ACTIVE = "active plans"
INSERTED = "one new row"


@dataclass(frozen=True)
class Spec:
    key: str  # identifies a row in assertions
    touch: str  # a column UPDATE sets to itself
    owner_column: str | None = None
    # Makes a new row from a copy of an existing one, owned by the given user.
    fresh: Callable[[dict[str, Any], str], dict[str, Any]] = lambda row, owner: row
    make_room: str | None = None  # SQL run first as the owner (singletons)
    expect: dict[str, dict[Actor, str]] = field(default_factory=dict)


def _matrix(select: dict[Actor, str], **writes: dict[Actor, str]) -> dict[str, dict[Actor, str]]:
    server_only = {ANON: DENIED, USER_A: DENIED, USER_B: DENIED, SERVICE: ALL, SERVICE_NO_BYPASS: ALL}
    expect = {
        "SELECT": select,
        "INSERT": {**server_only, SERVICE: INSERTED, SERVICE_NO_BYPASS: INSERTED},
        "UPDATE": server_only,
        "DELETE": server_only,
    }
    expect.update(writes)
    return expect


OWNER_READS = _matrix({ANON: DENIED, USER_A: OWN, USER_B: OWN, SERVICE: ALL, SERVICE_NO_BYPASS: ALL})
SERVER_ONLY = _matrix({ANON: DENIED, USER_A: DENIED, USER_B: DENIED, SERVICE: ALL, SERVICE_NO_BYPASS: ALL})
# subscription_events: a history, added to and never changed, by any role (the owner included: a trigger).
APPEND_ONLY = {
    **OWNER_READS,
    "UPDATE": dict.fromkeys(ACTORS, DENIED),
    "DELETE": dict.fromkeys(ACTORS, DENIED),
}
NOBODY = dict.fromkeys(("SELECT", "INSERT", "UPDATE", "DELETE"), dict.fromkeys(ACTORS, DENIED))


def _new(**changes: Any) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    """A ``fresh`` that overrides columns; callables get the owner's id; "-" drops (identity)."""

    def fresh(row: dict[str, Any], owner: str) -> dict[str, Any]:
        row = dict(row)
        for column, value in changes.items():
            if value == "-":
                row.pop(column)
            else:
                row[column] = value(owner) if callable(value) else value
        return row

    return fresh


def _uuid(owner: str) -> str:
    return str(uuid.uuid4())


def _owner(owner: str) -> str:
    return owner


def _unique(owner: str) -> str:
    return f"new-{uuid.uuid4().hex[:12]}"


SPECS: dict[str, Spec] = {
    "users": Spec(
        "id",
        "name",
        "id",
        _new(id=_uuid, email=lambda o: f"{_unique(o)}@example.com"),
        expect=_matrix(
            {ANON: DENIED, USER_A: OWN, USER_B: OWN, SERVICE: ALL, SERVICE_NO_BYPASS: ALL},
            UPDATE={ANON: DENIED, USER_A: OWN, USER_B: OWN, SERVICE: ALL, SERVICE_NO_BYPASS: ALL},
        ),
    ),
    "history": Spec(
        "id",
        "tool_name",
        "user_id",
        _new(id=_uuid, user_id=_owner, idempotency_key=_unique),
        expect=_matrix(
            {ANON: DENIED, USER_A: OWN, USER_B: OWN, SERVICE: ALL, SERVICE_NO_BYPASS: ALL},
            DELETE={ANON: DENIED, USER_A: OWN, USER_B: OWN, SERVICE: ALL, SERVICE_NO_BYPASS: ALL},
        ),
    ),
    "storage_objects": Spec(
        "id", "size", "user_id", _new(id=_uuid, user_id=_owner, key=_unique, run_id=None), expect=OWNER_READS
    ),
    "storage_deletions": Spec("id", "key", None, _new(id="-", key=_unique), expect=SERVER_ONLY),
    "user_stats": Spec("user_id", "total_used", "user_id", _new(user_id=_owner), expect=OWNER_READS),
    "user_daily_usage": Spec(
        "id", "runs", "user_id", _new(id="-", user_id=_owner, tool_id=_unique), expect=OWNER_READS
    ),
    "tool_statistics": Spec(
        "tool_id",
        "runs",
        None,
        _new(tool_id=_unique),
        expect=_matrix({ANON: DENIED, USER_A: ALL, USER_B: ALL, SERVICE: ALL, SERVICE_NO_BYPASS: ALL}),
    ),
    "daily_tool_usage": Spec("id", "runs", None, _new(id="-", tool_id=_unique), expect=SERVER_ONLY),
    # The per-tool counters' tail: read like tool_statistics (sql/rls/stats_tool_usage_events.sql).
    "tool_usage_events": Spec(
        "id",
        "runs",
        None,
        _new(id="-"),
        expect=_matrix({ANON: DENIED, USER_A: ALL, USER_B: ALL, SERVICE: ALL, SERVICE_NO_BYPASS: ALL}),
    ),
    "plans": Spec(
        "id",
        "name",
        None,
        _new(id=_uuid, key=_unique, external_id=None),
        expect=_matrix({ANON: ACTIVE, USER_A: ACTIVE, USER_B: ACTIVE, SERVICE: ALL, SERVICE_NO_BYPASS: ALL}),
    ),
    "features": Spec(
        "id",
        "name",
        None,
        _new(id=_uuid, tool_id=_unique),
        # Switched-off rows too: a row is what says a tool is off (sql/rls/tools.sql).
        expect=_matrix({ANON: ALL, USER_A: ALL, USER_B: ALL, SERVICE: ALL, SERVICE_NO_BYPASS: ALL}),
    ),
    "subscriptions": Spec(
        "id",
        "status",
        "user_id",
        _new(id=_uuid, user_id=_owner, provider_subscription_id=None),
        expect=OWNER_READS,
    ),
    "subscription_events": Spec("id", "status", "user_id", _new(id="-", user_id=_owner), expect=APPEND_ONLY),
    "credit_balances": Spec("user_id", "credits_remaining", "user_id", _new(user_id=_owner), expect=OWNER_READS),
    "credit_ledger": Spec(
        "id", "details", "user_id", _new(id="-", user_id=_owner, idempotency_key=_unique), expect=OWNER_READS
    ),
    "usage_counters": Spec("id", "count", "user_id", _new(id="-", user_id=_owner, metric=_unique), expect=OWNER_READS),
    "admin_settings": Spec(
        "id",
        "feature_costs",
        None,
        make_room="DELETE FROM public.admin_settings",
        expect=_matrix({ANON: DENIED, USER_A: ALL, USER_B: ALL, SERVICE: ALL, SERVICE_NO_BYPASS: ALL}),
    ),
    # Django's own tables: RLS on, no policy, no grants. Nobody but Django.
    "django_migrations": Spec("id", "name", fresh=_new(id="-"), expect=NOBODY),
    "django_session": Spec("session_key", "session_data", fresh=_new(session_key=_unique), expect=NOBODY),
    "django_content_type": Spec("id", "model", fresh=_new(id="-", model=_unique), expect=NOBODY),
    "django_admin_log": Spec("id", "object_repr", "user_id", _new(id="-", user_id=_owner), expect=NOBODY),
    "auth_permission": Spec("id", "name", fresh=_new(id="-", codename=_unique), expect=NOBODY),
    "auth_group": Spec("id", "name", fresh=_new(id="-", name=_unique), expect=NOBODY),
    "auth_group_permissions": Spec("id", "group_id", fresh=_new(id="-"), expect=NOBODY),
    "users_groups": Spec("id", "group_id", "user_id", _new(id="-", user_id=_owner), expect=NOBODY),
    "users_user_permissions": Spec("id", "permission_id", "user_id", _new(id="-", user_id=_owner), expect=NOBODY),
    # django-allauth's (sql/rls/allauth.sql). Addresses and provider accounts:
    # the owner reads, only the server writes (a writable `verified` would
    # skip the verified-email rule for runs).
    "account_emailaddress": Spec(
        "id",
        "verified",
        "user_id",
        _new(id="-", user_id=_owner, email=lambda o: f"{_unique(o)}@example.com"),
        expect=OWNER_READS,
    ),
    "socialaccount_socialaccount": Spec(
        "id", "last_login", "user_id", _new(id="-", user_id=_owner, uid=_unique), expect=OWNER_READS
    ),
    # Secrets only Django reads: provider tokens, OAuth client secrets, confirmation keys.
    "socialaccount_socialtoken": Spec("id", "token", fresh=_new(id="-"), expect=NOBODY),
    "socialaccount_socialapp": Spec("id", "name", fresh=_new(id="-"), expect=NOBODY),
    "account_emailconfirmation": Spec("id", "sent", fresh=_new(id="-", key=_unique), expect=NOBODY),
}


def expected_rows(expectation: str, actor: Actor, table: str, world: World) -> set[str]:
    owners = world.owners[table]
    if expectation == ALL:
        return set(owners)
    if expectation == OWN:
        return {key for key, owner in owners.items() if owner == actor.user}
    if expectation == ACTIVE:
        return {str(pk) for pk in Plan.objects.filter(active=True).values_list("id", flat=True)}
    raise AssertionError(expectation)


def fetch(sql: str, params: list[Any] | None = None) -> Callable[[Any], set[str]]:
    def statement(cursor: Any) -> set[str]:
        cursor.execute(sql, params)
        return rows(cursor)

    return statement


def run_operation(operation: str, table: str, actor: Actor, world: World) -> set[str]:
    """The keys of the rows ``actor`` saw or changed; raises Denied."""
    spec = SPECS[table]
    if operation == "SELECT":
        return as_actor(actor, world, fetch(f"SELECT {spec.key}::text FROM public.{table}"))
    if operation == "UPDATE":
        sql = f"UPDATE public.{table} SET {spec.touch} = {spec.touch} RETURNING {spec.key}::text"
        return as_actor(actor, world, fetch(sql))
    if operation == "DELETE":
        return as_actor(actor, world, fetch(f"DELETE FROM public.{table} RETURNING {spec.key}::text"))
    # INSERT: a copy of an existing row made new, owned by the actor itself
    # (user C for the service role, whose rows do not exist yet).
    owner = world.users[actor.user or ("C" if actor.role == "service_role" else "A")]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT to_jsonb(t) FROM public.{table} t ORDER BY {spec.key} LIMIT 1")
        template = json.loads(cursor.fetchone()[0])
    row = spec.fresh(template, str(owner.pk))
    columns = ", ".join(f'"{column}"' for column in row)  # quoted: allauth has a column named "primary"
    sql = (
        f"INSERT INTO public.{table} ({columns}) SELECT {columns} "
        f"FROM jsonb_populate_record(NULL::public.{table}, %s::jsonb) RETURNING {spec.key}::text"
    )
    return as_actor(actor, world, fetch(sql, [json.dumps(row)]), before=spec.make_room)


def test_every_public_table_is_in_the_matrix() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
        )
        tables = rows(cursor)

    assert tables == set(SPECS), "a new public table needs its row in SPECS (and its policies in sql/rls/)"


@pytest.mark.parametrize("actor", ACTORS, ids=lambda actor: actor.name)
@pytest.mark.parametrize("table", list(SPECS))
def test_what_each_role_may_do_with_each_table(table: str, actor: Actor, world: World) -> None:
    outcomes: dict[str, str] = {}
    failures = []
    for operation in ("SELECT", "INSERT", "UPDATE", "DELETE"):
        expectation = SPECS[table].expect[operation][actor]
        try:
            result = run_operation(operation, table, actor, world)
        except Denied:
            outcome_ok = expectation == DENIED
            outcomes[operation] = "denied"
        else:
            if expectation == DENIED:
                outcome_ok = False
            elif expectation == INSERTED:
                # A singleton is re-inserted under its own key after make_room.
                outcome_ok = len(result) == 1 and bool(SPECS[table].make_room or not result & set(world.owners[table]))
            else:
                outcome_ok = result == expected_rows(expectation, actor, table, world)
            outcomes[operation] = f"rows {sorted(result)}"
        if not outcome_ok:
            failures.append(f"{operation}: expected {expectation}, got {outcomes[operation]}")

    assert not failures, f"{actor.name} on {table}: " + "; ".join(failures)


# --- the cases the issue names ------------------------------------------------


def is_denied(action: Callable[[], Any]) -> bool:
    try:
        with transaction.atomic():
            action()
    except DatabaseError as exc:
        return getattr(exc.__cause__, "sqlstate", None) == INSUFFICIENT_PRIVILEGE
    return False


def test_user_a_cannot_move_a_run_to_b_by_update(world: World) -> None:
    a, b = world.users["A"], world.users["B"]
    run = History.objects.get(user=a)

    with acting(USER_A, world) as cursor:
        assert is_denied(lambda: cursor.execute("UPDATE history SET user_id = %s WHERE id = %s", [b.pk, run.pk]))

    assert History.objects.get(pk=run.pk).user_id == a.pk


def test_an_owner_cannot_delete_an_unfinished_run_through_the_data_api(world: World) -> None:
    # Its credits are still held; only the app's delete fails (and refunds) it first.
    run = History.objects.get(user=world.users["A"])
    History.objects.filter(pk=run.pk).update(status="PROCESSING")

    with acting(USER_A, world) as cursor:
        cursor.execute("DELETE FROM history WHERE id = %s", [run.pk])
        assert cursor.rowcount == 0
    assert History.objects.filter(pk=run.pk).exists()

    History.objects.filter(pk=run.pk).update(status="FAILED")
    with acting(USER_A, world) as cursor:
        cursor.execute("DELETE FROM history WHERE id = %s", [run.pk])
        assert cursor.rowcount == 1


def test_user_a_cannot_insert_rows_owned_by_b(world: World) -> None:
    b = world.users["B"]
    inserts = {}
    with connection.cursor() as cursor:  # copies of B's rows, made new, as the server could write them
        for table in ("history", "storage_objects", "user_stats", "credit_balances", "credit_ledger", "usage_counters"):
            cursor.execute(f"SELECT to_jsonb(t) FROM public.{table} t WHERE user_id = %s LIMIT 1", [b.pk])
            row = SPECS[table].fresh(json.loads(cursor.fetchone()[0]), str(b.pk))
            columns = ", ".join(row)
            sql = (
                f"INSERT INTO public.{table} ({columns}) SELECT {columns} "
                f"FROM jsonb_populate_record(NULL::public.{table}, %s::jsonb)"
            )
            inserts[table] = (sql, [json.dumps(row)])

    with acting(USER_A, world) as cursor:
        denied = {table: is_denied(lambda args=args: cursor.execute(*args)) for table, args in inserts.items()}

    assert all(denied.values()), denied
    assert History.objects.filter(user=b).count() == 1


def test_user_a_cannot_read_b_stats_through_a_join(world: World) -> None:
    a, b = world.users["A"], world.users["B"]

    with acting(USER_A, world) as cursor:
        cursor.execute(
            "SELECT u.id::text, s.user_id::text FROM users u FULL JOIN user_stats s ON s.user_id = u.id "
            "UNION SELECT h.user_id::text, s.user_id::text FROM history h FULL JOIN user_stats s ON true"
        )
        seen = {value for row in cursor.fetchall() for value in row if value}
        cursor.execute("SELECT count(*) FROM user_stats WHERE user_id = %s", [b.pk])
        (b_rows,) = cursor.fetchone()

    assert seen == {str(a.pk)}
    assert b_rows == 0


def test_the_policies_alone_hold_even_under_grants_that_are_too_broad(world: World) -> None:
    # Supabase grants ALL on new public tables to authenticated by default: if
    # a REVOKE were ever lost, RLS must still keep A to A's rows.
    a, b = world.users["A"], world.users["B"]
    with connection.cursor() as cursor:
        cursor.execute("GRANT ALL ON history, user_stats, users TO authenticated")
    run = History.objects.get(user=a)

    with acting(USER_A, world) as cursor:
        cursor.execute("UPDATE history SET user_id = %s WHERE id = %s", [b.pk, run.pk])
        moved = cursor.rowcount  # no UPDATE policy for authenticated: no row qualifies
        cursor.execute("UPDATE user_stats SET total_used = 99")
        stats_updated = cursor.rowcount
        cursor.execute("DELETE FROM user_stats")
        stats_deleted = cursor.rowcount
        cursor.execute("UPDATE users SET name = 'x' WHERE id = %s", [b.pk])
        b_renamed = cursor.rowcount
        changes_own_id = is_denied(lambda: cursor.execute("UPDATE users SET id = %s WHERE id = %s", [b.pk, a.pk]))
        inserts_for_b = is_denied(
            lambda: cursor.execute(
                "INSERT INTO history (id, user_id, tool_id, tool_name, status, input_file_name, output_file_name,"
                " file_key, metadata, error_message, bytes_in, bytes_out, credits_charged, idempotency_key,"
                " request_fingerprint, expires_at, created_at, updated_at)"
                " VALUES (gen_random_uuid(), %s, 't', 't', 'PENDING', 'a', '', '', '{}', '', 0, 0, 0, 'x', '',"
                " now(), now(), now())",
                [b.pk],
            )
        )

    assert (moved, stats_updated, stats_deleted, b_renamed) == (0, 0, 0, 0)
    assert changes_own_id, "WITH CHECK must refuse a row that stops being the caller's"
    assert inserts_for_b, "no INSERT policy for authenticated: the row is refused"


@pytest.mark.parametrize(
    "assignment",
    ["id = gen_random_uuid()", "email = 'x@example.com'", "is_staff = true", "is_superuser = true", "password = ''"],
)
def test_a_user_cannot_change_their_id_email_or_privileges(assignment: str, world: World) -> None:
    a = world.users["A"]

    with acting(USER_A, world) as cursor:
        denied = is_denied(lambda: cursor.execute(f"UPDATE users SET {assignment} WHERE id = %s", [a.pk]))

    assert denied
    a.refresh_from_db()
    assert (a.is_staff, a.is_superuser, a.email) == (False, False, "rls-a@example.com")


def test_a_user_can_update_their_own_name_and_image_only_on_their_own_row(world: World) -> None:
    a, b = world.users["A"], world.users["B"]

    with acting(USER_A, world) as cursor:
        cursor.execute("UPDATE users SET name = 'Ada', image = 'https://example.com/a.png' RETURNING id::text")
        changed = rows(cursor)
        cursor.execute("SELECT name FROM users WHERE id = %s", [a.pk])
        (name,) = cursor.fetchone()

    assert changed == {str(a.pk)}
    assert name == "Ada"
    b.refresh_from_db()
    assert b.name == ""


def test_authenticated_cannot_read_password_hashes(world: World) -> None:
    with acting(USER_A, world) as cursor:
        assert is_denied(lambda: cursor.execute("SELECT password FROM users"))
        assert is_denied(lambda: cursor.execute("SELECT * FROM users"))


def test_anon_sees_no_user_data(world: World) -> None:
    user_tables = [table for table, spec in SPECS.items() if spec.owner_column]

    with acting(ANON, world) as cursor:
        denied = {
            table: is_denied(lambda t=table: cursor.execute(f"SELECT 1 FROM public.{t}")) for table in user_tables
        }

    assert user_tables and all(denied.values()), denied


@pytest.mark.parametrize("role", ["anon", "authenticated", "service_role"])
def test_no_api_role_may_truncate_reference_or_trigger_any_table(role: str) -> None:
    # TRUNCATE is not subject to RLS; Supabase's default privileges grant it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, privilege FROM pg_class, unnest(ARRAY['TRUNCATE', 'REFERENCES', 'TRIGGER']) privilege"
            " WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
            " AND has_table_privilege(%s, oid, privilege)",
            [role],
        )
        granted = cursor.fetchall()

    assert granted == []


def test_only_the_service_role_may_use_sequences_and_no_api_role_may_call_our_functions() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT role, relname FROM pg_class, unnest(ARRAY['anon', 'authenticated']) role"
            " WHERE relnamespace = 'public'::regnamespace AND relkind = 'S'"
            " AND (has_sequence_privilege(role, oid, 'USAGE') OR has_sequence_privilege(role, oid, 'UPDATE'))"
        )
        sequences = cursor.fetchall()
        cursor.execute(
            "SELECT role, proname FROM pg_proc, unnest(ARRAY['anon', 'authenticated', 'service_role']) role"
            " WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'versatools\\_%%'"
            " AND has_function_privilege(role, oid, 'EXECUTE')"
        )
        functions = cursor.fetchall()

    assert sequences == []
    assert functions == []


def test_supabase_lint_rls_disabled_in_public_finds_nothing() -> None:
    # Supabase's splinter rule 0013_rls_disabled_in_public, for the public
    # schema, made stricter: no table without RLS at all, granted or not.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid"
            " WHERE c.relkind = 'r' AND NOT c.relrowsecurity AND n.nspname = 'public'"
        )
        flagged = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'")
        (tables,) = cursor.fetchone()

    assert tables > 20
    assert flagged == []


def test_every_policy_uses_the_supabase_roles_and_wraps_auth_uid() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT policyname, roles::text[], coalesce(qual, ''), coalesce(with_check, '') FROM pg_policies"
        )
        policies = cursor.fetchall()

    assert len(policies) >= 20
    for name, roles, qual, with_check in policies:
        assert set(roles) <= {"anon", "authenticated", "service_role"}, name  # never TO public
        for expression in (qual, with_check):
            assert expression.count("auth.uid()") == expression.count("( SELECT auth.uid() AS uid)"), name


# --- django-allauth's tables ----------------------------------------------------

ALLAUTH_SECRETS = ("socialaccount_socialtoken", "socialaccount_socialapp", "account_emailconfirmation")


def test_a_user_reads_only_their_own_email_addresses_and_provider_accounts(world: World) -> None:
    a, b = world.users["A"], world.users["B"]

    with acting(USER_A, world) as cursor:
        cursor.execute("SELECT user_id::text, email, verified FROM account_emailaddress")
        addresses = cursor.fetchall()
        cursor.execute("SELECT user_id::text, provider, uid FROM socialaccount_socialaccount")
        accounts = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM account_emailaddress WHERE user_id = %s", [b.pk])
        (b_addresses,) = cursor.fetchone()

    assert addresses == [(str(a.pk), "rls-a@example.com", True)]
    assert accounts == [(str(a.pk), "github", "rls-A")]
    assert b_addresses == 0


def test_a_user_cannot_verify_an_address_or_attach_a_provider_account_through_the_data_api(world: World) -> None:
    a = world.users["A"]
    EmailAddress.objects.filter(user=a).update(verified=False)

    with acting(USER_A, world) as cursor:
        denied = {
            "verify": is_denied(lambda: cursor.execute("UPDATE account_emailaddress SET verified = true")),
            "add verified": is_denied(
                lambda: cursor.execute(
                    'INSERT INTO account_emailaddress (user_id, email, verified, "primary")'
                    " VALUES (%s, 'other@example.com', true, false)",
                    [a.pk],
                )
            ),
            "take a github identity": is_denied(
                lambda: cursor.execute(
                    "INSERT INTO socialaccount_socialaccount (user_id, provider, uid, last_login, date_joined,"
                    " extra_data) VALUES (%s, 'github', 'someone-elses-uid', now(), now(), '{}')",
                    [a.pk],
                )
            ),
            "move a provider account": is_denied(
                lambda: cursor.execute("UPDATE socialaccount_socialaccount SET user_id = %s", [a.pk])
            ),
        }

    assert all(denied.values()), denied
    assert not EmailAddress.objects.get(user=a).verified


def test_the_address_policies_hold_even_under_grants_that_are_too_broad(world: World) -> None:
    # Supabase's default privileges, had the REVOKE been lost: no UPDATE or
    # INSERT policy for authenticated, so no row qualifies and none is accepted.
    a, b = world.users["A"], world.users["B"]
    EmailAddress.objects.filter(user__in=[a, b]).update(verified=False)
    with connection.cursor() as cursor:
        cursor.execute("GRANT ALL ON account_emailaddress, socialaccount_socialaccount TO authenticated")

    with acting(USER_A, world) as cursor:
        cursor.execute("UPDATE account_emailaddress SET verified = true")
        verified = cursor.rowcount
        cursor.execute("DELETE FROM socialaccount_socialaccount")
        disconnected = cursor.rowcount
        cursor.execute("SELECT user_id::text FROM account_emailaddress")
        seen = rows(cursor)

    assert (verified, disconnected) == (0, 0)
    assert seen == {str(a.pk)}
    assert not EmailAddress.objects.filter(verified=True, user__in=[a, b]).exists()


@pytest.mark.parametrize("role", ["anon", "authenticated", "service_role"])
@pytest.mark.parametrize("table", ALLAUTH_SECRETS)
def test_no_api_role_holds_any_privilege_on_tokens_client_secrets_or_confirmation_keys(role: str, table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT privilege FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',"
            " 'TRIGGER']) privilege WHERE has_table_privilege(%s, %s::regclass, privilege)",
            [role, f"public.{table}"],
        )
        table_privileges = cursor.fetchall()
        cursor.execute(
            "SELECT has_any_column_privilege(%s, %s::regclass, 'SELECT'), relrowsecurity,"
            " (SELECT count(*) FROM pg_policies WHERE schemaname = 'public' AND tablename = %s)"
            " FROM pg_class WHERE oid = %s::regclass",
            [role, f"public.{table}", table, f"public.{table}"],
        )
        any_column, rls_on, policies = cursor.fetchone()

    assert table_privileges == []
    assert (any_column, rls_on, policies) == (False, True, 0)


def test_the_provider_token_is_out_of_reach_even_for_its_owner(world: World) -> None:
    with acting(USER_A, world) as cursor:
        assert is_denied(lambda: cursor.execute("SELECT token FROM socialaccount_socialtoken"))
        assert is_denied(lambda: cursor.execute("SELECT key FROM account_emailconfirmation"))
        assert is_denied(lambda: cursor.execute("SELECT secret FROM socialaccount_socialapp"))


# --- auth functions and triggers -----------------------------------------------


@pytest.mark.parametrize(
    "setting,value",
    [
        ("request.jwt.claims", json.dumps({"sub": "6f1c1a8e-4a37-4c8e-9d0a-4d5e7c2b9a10", "role": "authenticated"})),
        ("request.jwt.claim.sub", "6f1c1a8e-4a37-4c8e-9d0a-4d5e7c2b9a10"),
    ],
)
def test_auth_uid_reads_the_claims_like_supabase(setting: str, value: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT auth.uid()")
        before = cursor.fetchone()[0]
        cursor.execute("SELECT set_config(%s, %s, true)", [setting, value])
        cursor.execute("SELECT auth.uid()::text, auth.role(), to_regprocedure('auth.jwt()')")
        uid, role, jwt = cursor.fetchone()

    assert before is None
    assert uid == "6f1c1a8e-4a37-4c8e-9d0a-4d5e7c2b9a10"
    if setting == "request.jwt.claims":
        assert role == "authenticated"
    # No auth.jwt() stand-in: no policy needs it, and ours would block Supabase's auth server.
    assert jwt is None


def test_updated_at_is_kept_right_for_writes_from_outside_django(world: World) -> None:
    run = History.objects.get(user=world.users["A"])
    long_ago = timezone.now() - timedelta(days=3)
    History.objects.filter(pk=run.pk).update(updated_at=long_ago)  # an explicit value is kept

    assert History.objects.get(pk=run.pk).updated_at == long_ago

    with connection.cursor() as cursor:  # raw SQL that does not name updated_at
        cursor.execute("UPDATE history SET tool_name = 'Renamed' WHERE id = %s RETURNING updated_at", [run.pk])
        (updated_at,) = cursor.fetchone()
        cursor.execute("SELECT now()")
        (now,) = cursor.fetchone()

    assert updated_at == now


def test_updated_at_triggers_exist_on_every_table_with_updated_at() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at'"
            " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND NOT EXISTS ("
            "  SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal"
            "  AND t.tgfoid = 'public.versatools_set_updated_at()'::regprocedure)"
        )
        missing = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%%_set_updated_at'")
        (triggers,) = cursor.fetchone()

    assert missing == []
    assert triggers >= 10
