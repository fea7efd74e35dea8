"""The zero-setup default: no DATABASE_URL means an SQLite file in the project directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# manage.py migrate and shell on a new SQLite file, in subprocesses.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

CREATE_AND_READ_A_RUN = """
from accounts.models import User
from history.models import History
user = User.objects.create_user(email="first@example.com", password="x")
History.objects.create(user=user, tool_id="pdf-merge", tool_name="PDF Merger",
                       input_file_name="a.pdf", idempotency_key="k1", metadata={"pages": 3})
run = History.objects.get(user=user)
print("read", run.status, run.metadata["pages"], run.expires_at > run.created_at)
"""


LIFECYCLE = """
import io
from accounts.models import User
from accounts.services import email_mark_verified
from billing.models import CreditBalance
from billing.services import credit_balance_open
from history.models import History
from billing.models import UsageCounter
from files.models import StorageDeletion, StorageObject
from history.processing import Upload, run_submit
from history.services import run_delete, run_fail, run_mark_processing, run_start
from stats.models import UserStats
from tools.tests.test_tools import png_bytes
user = User.objects.create_user(email="second@example.com", password="x")
email_mark_verified(user_id=user.id, email=user.email)  # unverified addresses may not start runs
credit_balance_open(user_id=user.id, credits=10)
done = run_submit(user_id=user.id, tool_id="image-compress",
                  uploads=[Upload(file=io.BytesIO(png_bytes()), name="p.png")], idempotency_key="k1")
run = History.objects.get(id=done.run.id)
replay = run_submit(user_id=user.id, tool_id="image-compress",
                    uploads=[Upload(file=io.BytesIO(png_bytes()), name="p.png")], idempotency_key="k1")
bad = run_start(user_id=user.id, tool_id="pdf-merge", input_file_name="a.pdf", input_bytes=5, idempotency_key="k2").run
run_mark_processing(run_id=bad.id)
run_fail(run_id=bad.id, error_message="broken")
print("run", run.status, "compressionRatio" in run.metadata, "replayed", not replay.created,
      "balance", CreditBalance.objects.get(user=user).credits_remaining,
      "breakdown", sorted(UserStats.objects.get(user=user).tools_breakdown.items()))
stored = UsageCounter.objects.get(user=user, metric="storage_bytes").count
runs_window = UsageCounter.objects.get(user=user, metric="runs").count
run_delete(user_id=user.id, run_id=run.id)  # the SQLite trigger owes the blobs and gives the bytes back
print("stored", stored > 0, "runs window", runs_window,
      "after delete", UsageCounter.objects.get(user=user, metric="storage_bytes").count,
      StorageObject.objects.filter(user=user).count(), StorageDeletion.objects.count())
"""


def test_sqlite_default_migrates_and_stores_a_run(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(
        ROOT, project, ignore=shutil.ignore_patterns(".venv", ".git", "db.sqlite3", ".env", "media", "__pycache__")
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DIRECT_URL", "REDIS_URL", "CI"}}

    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=project, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr
    assert (project / "db.sqlite3").is_file()

    shell = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", CREATE_AND_READ_A_RUN],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert shell.returncode == 0, shell.stderr
    assert "read PENDING 3 True" in shell.stdout

    # The whole run lifecycle (sql/queries/sqlite/): upload, eager processing,
    # a replayed key, a failure with its refund, the statistics.
    lifecycle = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", LIFECYCLE], cwd=project, env=env, capture_output=True, text=True
    )
    assert lifecycle.returncode == 0, lifecycle.stderr
    assert (
        "run COMPLETED True replayed True balance 9 breakdown [('image-compress', 1), ('pdf-merge', 1)]"
        in lifecycle.stdout
    )
    # The failed run gave its quota unit back; the delete left no row, no owed delete, no counted byte.
    assert "stored True runs window 1 after delete 0 0 0" in lifecycle.stdout, lifecycle.stdout
    assert not [p for p in (project / "media").rglob("*") if p.is_file()]
