from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Q, Sum

from billing.models import CreditBalance, CreditLedgerEntry, Subscription, UsageCounter
from demo.services import demo_users_queryset
from files.models import StorageObject
from history.models import History
from history.services import run_complete, run_mark_processing, run_start
from stats.models import DailyToolUsage, ToolStatistics, UserDailyUsage, UserStats
from stats.services import stats_tool_events_roll

pytestmark = pytest.mark.django_db

ANCHOR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0).isoformat()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    return tmp_path


def seed(*extra: str) -> None:
    call_command(
        "seed_demo",
        "--seed",
        "7",
        "--users",
        "12",
        "--runs",
        "3000",
        "--files",
        "15",
        "--anchor",
        ANCHOR,
        *extra,
        stdout=io.StringIO(),
    )


def snapshot() -> dict[str, list]:
    def rows(sql: str) -> list:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    return {
        "users": rows("SELECT id, email, name FROM users ORDER BY id"),
        "history": rows(
            "SELECT id, user_id, tool_id, status, metadata::text, bytes_in, bytes_out, created_at,"
            " expires_at, file_key FROM history ORDER BY id"
        ),
        "ledger": rows(
            "SELECT user_id, operation_type, credits, idempotency_key FROM credit_ledger"
            " ORDER BY user_id, idempotency_key"
        ),
        "subscriptions": rows("SELECT user_id, plan_id, status FROM subscriptions ORDER BY user_id"),
        "tool_statistics": rows(
            "SELECT tool_id, runs, completed, failed, bytes_in, bytes_out FROM tool_statistics ORDER BY tool_id"
        ),
        "files": rows("SELECT id, key, size FROM storage_objects ORDER BY id"),
    }


def test_the_same_seed_gives_the_same_data() -> None:
    seed()
    first = snapshot()

    seed("--reset")

    assert snapshot() == first
    assert len(first["history"]) == 3000
    assert len(first["files"]) == 15


def test_demo_statistics_credits_and_windows_agree_with_its_runs(media) -> None:
    seed()

    for tool in ToolStatistics.objects.all():
        runs = History.objects.filter(tool_id=tool.tool_id).aggregate(
            n=Count("id"),
            done=Count("id", filter=Q(status="COMPLETED")),
            bad=Count("id", filter=Q(status="FAILED")),
            bin=Sum("bytes_in"),
            bout=Sum("bytes_out"),
        )
        assert (tool.runs, tool.completed, tool.failed, tool.bytes_in, tool.bytes_out) == (
            runs["n"],
            runs["done"],
            runs["bad"],
            runs["bin"],
            runs["bout"],
        )
        assert DailyToolUsage.objects.filter(tool_id=tool.tool_id).aggregate(s=Sum("runs"))["s"] == runs["n"]
    for user in demo_users_queryset():
        mine = History.objects.filter(user=user)
        stats = UserStats.objects.filter(user=user).first()
        assert (stats.total_used if stats else 0) == mine.count()
        if stats:
            assert stats.tools_breakdown == dict(mine.values_list("tool_id").annotate(n=Count("id")))
            assert UserDailyUsage.objects.filter(user=user).aggregate(s=Sum("runs"))["s"] == mine.count()
        balance = CreditBalance.objects.get(user=user).credits_remaining
        assert balance >= 0
        assert balance == -CreditLedgerEntry.objects.filter(user=user).aggregate(s=Sum("credits"))["s"]
    assert set(Subscription.objects.values_list("status", flat=True)) >= {"active", "trial"}
    assert UsageCounter.objects.filter(metric="runs").exists()
    for obj in StorageObject.objects.all():
        assert default_storage.exists(obj.key)
        assert History.objects.get(id=obj.run_id).file_key == obj.key
    assert {"COMPLETED", "FAILED"} <= set(History.objects.values_list("status", flat=True))
    assert History.objects.filter(tool_id="pdf-merge", metadata__has_key="pages").exists()
    assert History.objects.filter(tool_id="image-compress", metadata__has_key="compressionRatio").exists()


def test_seeding_over_existing_demo_data_without_reset_changes_nothing() -> None:
    seed()
    before = snapshot()

    with pytest.raises(CommandError, match="pass --reset"):
        seed()

    assert snapshot() == before


def test_reset_takes_the_demo_share_out_of_global_statistics(user) -> None:
    run = run_start(
        user_id=user.id, tool_id="pdf-merge", input_file_name="a.pdf", input_bytes=10, idempotency_key="real"
    ).run
    run_mark_processing(run_id=run.id)
    run_complete(run_id=run.id, output_file_name="b.pdf", bytes_out=5)
    stats_tool_events_roll()  # the real run's events into the counters, as beat would
    real = list(ToolStatistics.objects.values_list("tool_id", "runs", "completed", "bytes_in", "bytes_out"))
    assert real == [("pdf-merge", 1, 1, 10, 5)]
    seed()

    call_command("seed_demo", "--reset", "--runs", "0", "--users", "1", "--files", "0", stdout=io.StringIO())

    assert (
        list(
            ToolStatistics.objects.filter(tool_id="pdf-merge").values_list(
                "tool_id", "runs", "completed", "bytes_in", "bytes_out"
            )
        )
        == real
    )
    assert demo_users_queryset().count() == 1
    assert History.objects.exclude(user=user).count() == 0


def test_bad_arguments_are_one_readable_line() -> None:
    with pytest.raises(CommandError, match="--anchor must be an ISO date-time"):
        call_command("seed_demo", "--anchor", "yesterday")
    with pytest.raises(CommandError, match="--users must be at least 1"):
        call_command("seed_demo", "--users", "0")
    assert demo_users_queryset().count() == 0
