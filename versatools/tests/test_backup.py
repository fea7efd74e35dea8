"""scripts/backup.sh and scripts/restore.sh against the local PostgreSQL, round trip."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from files.tests.conftest import s3_server, s3_storage  # noqa: F401

# pg_dump, restores and scratch databases in subprocesses.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DIRECT_URL", "REDIS_URL"}}
    env.update(overrides)
    return env


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), cwd=ROOT, env=env or clean_env(), capture_output=True, text=True, timeout=300, check=False
    )


def query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def catalog(url: str) -> dict[str, object]:
    tables = [row[0] for row in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
    return {
        "rows": {table: query(url, f'SELECT count(*) FROM "{table}"')[0][0] for table in tables},
        "rls": query(
            url,
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relrowsecurity ORDER BY 1",
        ),
        "policies": query(
            url, "SELECT tablename, policyname, roles::text, cmd, qual FROM pg_policies ORDER BY tablename, policyname"
        ),
        "grants": query(
            url,
            "SELECT table_name, grantee, privilege_type FROM information_schema.role_table_grants"
            " WHERE grantee IN ('anon', 'authenticated', 'service_role') ORDER BY 1, 2, 3",
        ),
    }


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    db = settings.DATABASES["default"]
    base = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}"
    suffix = uuid.uuid4().hex[:8]
    source, target = f"versatools_backup_{suffix}", f"versatools_restore_{suffix}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{source}"')
        conn.execute(f'CREATE DATABASE "{target}"')
    try:
        yield f"{base}/{source}", f"{base}/{target}", tmp_path / "versatools.dump"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            for name in (source, target):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_backup_restores_into_a_new_database_with_its_rows_policies_and_grants(databases) -> None:
    source, target, dump = databases
    env = clean_env(DATABASE_URL=source, LOG_LEVEL="WARNING")
    manage = (sys.executable, "manage.py")
    for argv in (("migrate", "--noinput", "-v0"), ("seed_demo", "--users", "6", "--runs", "300", "--files", "0")):
        result = run(*manage, *argv, env=env)
        assert result.returncode == 0, result.stderr

    backup = run("scripts/backup.sh", source, str(dump))
    restore = run("scripts/restore.sh", str(dump), target)

    assert backup.returncode == 0, backup.stderr
    assert restore.returncode == 0, restore.stderr
    before, after = catalog(source), catalog(target)
    assert before["rows"]["history"] == 300 and before["rows"]["users"] >= 6
    assert after == before
    assert len(after["policies"]) > 20 and ("history",) in after["rls"]
    # The restored database is a working one: nothing to migrate, the RLS check passes.
    restored_env = clean_env(DATABASE_URL=target)
    migrate_check = run(*manage, "migrate", "--check", env=restored_env)
    assert migrate_check.returncode == 0, migrate_check.stdout + migrate_check.stderr
    check = run(*manage, "check", "--fail-level", "ERROR", env=restored_env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert query(target, "SELECT has_table_privilege('anon', 'history', 'SELECT')") == [(False,)]


def test_restore_refuses_a_database_that_is_not_empty(databases) -> None:
    source, _, dump = databases
    result = run(sys.executable, "manage.py", "migrate", "--noinput", "-v0", env=clean_env(DATABASE_URL=source))
    assert result.returncode == 0, result.stderr
    assert run("scripts/backup.sh", source, str(dump)).returncode == 0
    users = query(source, "SELECT count(*) FROM users")

    restore = run("scripts/restore.sh", str(dump), source)

    assert restore.returncode == 1
    assert "restore into a new database" in restore.stderr
    assert query(source, "SELECT count(*) FROM users") == users


def test_backup_refuses_the_pooled_url(tmp_path: Path) -> None:
    result = run("scripts/backup.sh", "postgres://u@127.0.0.1:6432/db?pgbouncer=true", str(tmp_path / "x.dump"))

    assert result.returncode == 2
    assert "direct URL" in result.stderr
    assert not (tmp_path / "x.dump").exists()


# --- On a schedule: versatools/backups.py (the beat task and the commands) ----------------------


def seeded(url: str) -> None:
    env = clean_env(DATABASE_URL=url, LOG_LEVEL="WARNING")
    for argv in (("migrate", "--noinput", "-v0"), ("seed_demo", "--users", "3", "--runs", "40", "--files", "0")):
        result = run(sys.executable, "manage.py", *argv, env=env)
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_the_daily_backup_keeps_a_week_and_the_newest_restores(databases, settings, request, where) -> None:
    from datetime import UTC, datetime, timedelta

    from django.core.files.base import ContentFile

    from versatools.backups import backup_restore_latest, backup_run, backup_storage, backups_list

    source, target, dump = databases
    seeded(source)
    if where == "s3":
        s3 = request.getfixturevalue("s3_storage")  # the app's own bucket; backups get one of their own
        s3.server.create_bucket("vt-backups")
        settings.BACKUP_STORAGE = "s3://vt-backups/daily"
    else:
        settings.BACKUP_STORAGE = str(dump.parent / "backups")
    settings.BACKUP_DATABASE_URL = source
    settings.BACKUP_RETENTION_DAYS = 7
    storage = backup_storage()
    now = datetime(2026, 12, 1, 2, 31, tzinfo=UTC)
    for days in (9, 8, 3):  # two past the week, one within it
        storage.save((now - timedelta(days=days)).strftime("versatools-%Y%m%dT%H%M%SZ.dump"), ContentFile(b"old"))
    storage.save("notes.txt", ContentFile(b"not a backup: never listed, never pruned"))

    result = backup_run(now=now)

    assert result.name == "versatools-20261201T023100Z.dump" and result.size > 1000
    assert sorted(result.pruned) == ["versatools-20261122T023100Z.dump", "versatools-20261123T023100Z.dump"]
    assert [name for _, name in backups_list(storage)] == [
        "versatools-20261128T023100Z.dump",
        "versatools-20261201T023100Z.dump",
    ]
    assert storage.exists("notes.txt")

    assert backup_restore_latest(database_url=target) == result.name
    assert catalog(target) == catalog(source)


def test_the_backup_commands_say_what_is_wrong_in_one_line(databases, settings, s3_storage) -> None:  # noqa: F811
    from django.core.management import CommandError, call_command

    source, target, dump = databases
    settings.BACKUP_STORAGE = ""
    with pytest.raises(CommandError, match="Nothing backed up: BACKUP_STORAGE is not set"):
        call_command("backup_database")
    settings.BACKUP_STORAGE = f"s3://{s3_storage.bucket}/backups"  # the app's own files: reconcile would eat them
    with pytest.raises(CommandError, match="reconcile would delete the backups"):
        call_command("backup_database")
    settings.BACKUP_STORAGE = str(dump.parent / "empty")
    settings.BACKUP_DATABASE_URL = "postgres://u@127.0.0.1:6432/db?pgbouncer=true"
    with pytest.raises(CommandError, match="direct URL"):
        call_command("backup_database")
    with pytest.raises(CommandError, match="There is no backup"):
        call_command("restore_latest_backup", target)
