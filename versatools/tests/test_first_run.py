"""`make run` twice on SQLite: the second run keeps every operator edit and the operator's login.

The steps are read from the Makefile's ``run`` recipe itself (all but the
final ``runserver``), so the test follows what ``make run`` really does.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# `make run`'s manage.py steps, twice, in subprocesses.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def run_recipe() -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("run:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def first_run_steps(port: str = "8000") -> list[list[str]]:
    steps = []
    for line in run_recipe():
        line = line.replace("$(PORT)", port)
        assert line.startswith("$(BIN)/python manage.py "), line
        argv = [sys.executable, *shlex.split(line)[1:]]
        if argv[2] != "runserver":
            steps.append(argv)
    return steps


EDIT = """
from billing.models import AdminSettings, Plan
Plan.objects.filter(key="free").update(credits=35, runs_per_window=3)
settings_row = AdminSettings.objects.get()
settings_row.feature_costs = {**settings_row.feature_costs, "pdf-merge": 9}
settings_row.disabled_tools = ["image-convert"]
settings_row.save()
Plan.objects.filter(key="pro").delete()  # missing now: load_catalog inserts it again (retire a plan with active=False)
"""


def test_make_run_twice_keeps_edits_and_the_operator_login(tmp_path: Path) -> None:
    recipe = run_recipe()
    assert "loaddata" not in " ".join(recipe)
    assert recipe[-1] == "$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)"
    assert re.search(r"^PORT \?= 8000$", (ROOT / "Makefile").read_text(), re.M)

    project = tmp_path / "project"
    shutil.copytree(
        ROOT, project, ignore=shutil.ignore_patterns(".venv", ".git", "db.sqlite3", ".env", "media", "__pycache__")
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DIRECT_URL", "REDIS_URL", "CI"}}

    def run(argv: list[str]) -> str:
        result = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def shell(code: str) -> str:
        return run([sys.executable, "manage.py", "shell", "-c", code])

    first = "".join(run(argv) for argv in first_run_steps(port="9123"))
    login = re.search(r"Operator login: (\S+) / (\S+)  \(http://127\.0\.0\.1:9123/admin/\)", first)
    assert login, first
    email, password = login.groups()
    assert "Catalog: 8 row(s) inserted, 0 already there and kept;" in first  # 3 plans, the tool settings, 4 features

    shell(EDIT)
    second = "".join(run(argv) for argv in first_run_steps())

    assert "Operator login" not in second and password not in second
    assert f"Operator {email} exists; its password is unchanged" in second
    assert "Catalog: 1 row(s) inserted, 7 already there and kept;" in second  # only the deleted plan
    check = shell(
        "from accounts.models import User; from billing.models import AdminSettings, Plan; "
        "a = AdminSettings.objects.get(); f = Plan.objects.get(key='free'); "
        f"u = User.objects.get(email={email!r}); "
        "print('free', f.credits, f.runs_per_window, 'merge', a.feature_costs['pdf-merge'], "
        "'disabled', a.disabled_tools, 'plans', sorted(Plan.objects.values_list('key', flat=True)), "
        f"'login', u.check_password({password!r}), u.is_superuser)"
    )
    assert "free 35 3 merge 9 disabled ['image-convert'] plans ['basic', 'free', 'pro'] login True True" in check, check

    # An operator who lost the password asks for a new one explicitly.
    reset = run([sys.executable, "manage.py", "create_operator", "--reset-password"])
    new_password = re.search(r"Operator login: \S+ / (\S+)", reset)
    assert new_password and new_password.group(1) != password
