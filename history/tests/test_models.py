from __future__ import annotations

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from billing.models import CreditBalance, CreditLedgerEntry, Subscription, UsageCounter
from files.models import StorageObject
from history.models import History, RunStatus
from stats.models import UserDailyUsage, UserStats

pytestmark = pytest.mark.django_db

EXPECTED_TABLES = {
    "accounts.User": "users",
    "history.History": "history",
    "stats.UserStats": "user_stats",
    "stats.ToolStatistics": "tool_statistics",
    "stats.DailyToolUsage": "daily_tool_usage",
    "stats.UserDailyUsage": "user_daily_usage",
    "files.StorageObject": "storage_objects",
    "billing.Plan": "plans",
    "billing.Subscription": "subscriptions",
    "billing.SubscriptionEvent": "subscription_events",
    "billing.CreditBalance": "credit_balances",
    "billing.CreditLedgerEntry": "credit_ledger",
    "billing.UsageCounter": "usage_counters",
    "billing.AdminSettings": "admin_settings",
}


def give_user_one_of_everything(user, make_run) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from billing.models import Plan

    run = make_run(user, metadata={"pages": 2})
    UserStats.objects.create(user=user, total_used=1, tools_breakdown={"pdf-merge": 1})
    UserDailyUsage.objects.create(user=user, day=timezone.now().date(), tool_id="pdf-merge", runs=1)
    StorageObject.objects.create(
        user=user,
        run=run,
        key=f"{user.id}/runs/x.pdf",
        original_name="x.pdf",
        content_type="application/pdf",
        size=10,
        expires_at=run.expires_at,
    )
    plan = Plan.objects.create(key=f"p-{user.id.hex[:6]}", name="P", credits=10)
    Subscription.objects.create(user=user, plan=plan)
    CreditBalance.objects.create(user=user, credits_remaining=5)
    CreditLedgerEntry.objects.create(user=user, operation_type="grant", credits=-5, idempotency_key="g1")
    now = timezone.now()
    UsageCounter.objects.create(user=user, metric="runs", count=1, window_start=now, window_end=now + timedelta(days=1))


def owned_row_counts(user_id) -> dict[str, int]:
    tables = [
        "history",
        "user_stats",
        "user_daily_usage",
        "storage_objects",
        "subscriptions",
        "credit_balances",
        "credit_ledger",
        "usage_counters",
    ]
    with connection.cursor() as cursor:
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE user_id = %s", [user_id])
            counts[table] = cursor.fetchone()[0]
    return counts


@pytest.mark.parametrize("label,table", sorted(EXPECTED_TABLES.items()))
def test_every_model_uses_its_snake_case_table(label: str, table: str) -> None:
    assert apps.get_model(label)._meta.db_table == table
    assert table in connection.introspection.table_names()


def test_every_foreign_key_to_users_cascades_in_the_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT conrelid::regclass::text, confdeltype FROM pg_constraint
            WHERE contype = 'f' AND confrelid = 'public.users'::regclass
            """
        )
        rows = cursor.fetchall()

    assert len(rows) >= 10
    assert [table for table, action in rows if action != "c"] == []


def test_deleting_a_user_through_the_orm_removes_everything_they_own(make_user, make_run) -> None:
    doomed, kept = make_user(), make_user()
    give_user_one_of_everything(doomed, make_run)
    give_user_one_of_everything(kept, make_run)

    doomed.delete()

    assert set(owned_row_counts(doomed.id).values()) == {0}
    assert set(owned_row_counts(kept.id).values()) == {1}


def test_deleting_a_user_with_raw_sql_removes_everything_they_own(make_user, make_run) -> None:
    doomed, kept = make_user(), make_user()
    give_user_one_of_everything(doomed, make_run)
    give_user_one_of_everything(kept, make_run)

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM users WHERE id = %s", [doomed.id])
        # FKs are DEFERRABLE INITIALLY DEFERRED; force the check now, inside the test transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    assert set(owned_row_counts(doomed.id).values()) == {0}
    assert set(owned_row_counts(kept.id).values()) == {1}


@pytest.mark.both_dialects
def test_status_check_rejects_an_invalid_value_written_with_raw_sql(user, make_run) -> None:
    run = make_run(user)

    with (
        pytest.raises(IntegrityError, match="history_status_valid"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE history SET status = 'DONE' WHERE id = %s", [run.id.hex])  # hex: what both dialects take

    run.refresh_from_db()
    assert run.status == RunStatus.PENDING


def test_metadata_is_jsonb_and_answers_containment_queries(user, make_run) -> None:
    ratio = make_run(user, metadata={"compressionRatio": 0.4, "pages": 5})
    make_run(user, metadata={"pages": 7})

    assert list(History.objects.filter(metadata__contains={"pages": 5})) == [ratio]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'history' AND column_name = 'metadata'"
        )
        assert cursor.fetchone()[0] == "jsonb"
        cursor.execute("SELECT count(*) FROM history WHERE metadata @> '{\"compressionRatio\": 0.4}'")
        assert cursor.fetchone()[0] == 1


@pytest.mark.both_dialects
def test_a_run_expires_after_the_retention_setting_by_default(user, make_run, settings) -> None:
    settings.RUN_RETENTION_HOURS = 6
    run = make_run(user)

    lifetime = run.expires_at - run.created_at
    assert 6 * 3600 - 5 < lifetime.total_seconds() < 6 * 3600 + 5


def test_expected_indexes_exist() -> None:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "history")

    assert constraints["history_user_newest_idx"]["columns"] == ["user_id", "created_at", "id"]
    assert constraints["history_expires_at_idx"]["index"]
    assert constraints["history_unfinished_idx"]["index"]
    assert constraints["history_user_idempotency_key_unique"]["unique"]
