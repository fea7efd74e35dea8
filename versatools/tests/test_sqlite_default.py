"""The zero-setup default: no DATABASE_URL means an SQLite file in the project directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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
