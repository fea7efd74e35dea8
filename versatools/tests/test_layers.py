"""Dependencies point one way: no app module imports from a later layer.

core <- tools <- accounts <- billing <- stats' counters <- files <- history <- stats' read side <- demo

Every import counts, at module level or deferred inside a function (a
deferred import hides a dependency, it does not remove it). The pages that
compose several apps (admin, JSON views, management commands) sit on top and
may import any app; nothing but tests imports ``versatools``, the project's
wiring (settings, URLs, the API's assembly, the Celery app).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps

from core.sqlfiles import read_sql

ROOT = Path(__file__).resolve().parents[2]
APPS = ["core", "tools", "accounts", "billing", "stats", "files", "history", "demo"]
# Lower first. stats is two layers: its counters (fed by the run lifecycle) and its read side (the dashboards).
LAYERS = [
    ["core"],
    ["tools"],
    ["accounts"],
    ["billing"],
    ["stats.models", "stats.services", "stats.apps"],
    ["files"],
    ["history"],
    ["stats"],
    ["demo"],
]
# Modules that compose apps for people: they may import any app (but not the wiring).
PAGES = ("admin", "admin_views", "api", "views", "schemas", "management")


def layer_of(module: str) -> int:
    best = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    assert best is not None, module
    return best[0]


def app_modules(root: Path, apps: list[str]) -> list[tuple[str, Path]]:
    found = []
    for app in apps:
        for path in sorted((root / app).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            name = ".".join(part for part in parts if part != "__init__")
            found.append((name, path))
    return found


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def is_page(module: str) -> bool:
    return any(part in PAGES for part in module.split(".")[1:])


def violations(root: Path = ROOT, apps: list[str] = APPS) -> list[str]:
    found = []
    ours = (*APPS, "versatools")
    for module, path in app_modules(root, apps):
        for target in sorted(imported_modules(path)):
            top = target.split(".")[0]
            if top not in ours or top == module.split(".")[0]:
                continue
            if top == "versatools":
                found.append(f"{module} imports the project wiring {target}")
            elif module.split(".")[0] == "core":
                found.append(f"{module} (core) imports the app {target}")
            elif not is_page(module) and layer_of(target) > layer_of(module):
                found.append(f"{module} imports {target}, a later layer")
    return found


def test_no_app_module_imports_from_a_later_layer_or_the_wiring():
    assert violations() == []


def test_the_check_itself_catches_a_backwards_import(tmp_path):
    # files may not import history, even deferred; core no app; no app the wiring.
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "planted.py").write_text("def f():\n    from history.models import History\n")
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "planted.py").write_text("import billing.services\n")
    (tmp_path / "files" / "admin.py").write_text("from history.models import History\nimport versatools.urls\n")
    assert violations(tmp_path, ["core", "files"]) == [
        "core.planted (core) imports the app billing.services",
        "files.admin imports the project wiring versatools.urls",
        "files.planted imports history.models, a later layer",
    ]


@pytest.mark.parametrize(
    ("module", "layer"),
    [("stats.services", 4), ("stats.selectors", 7), ("history.processing", 6), ("files.cleanup", 5)],
)
def test_layers_are_assigned_by_the_longest_prefix(module, layer):
    assert layer_of(module) == layer


# --- One writer per table -------------------------------------------------------

# UPDATE after FOR or KEY is a row lock (FOR UPDATE, FOR NO KEY UPDATE), after DO an upsert's own.
WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|(?<!FOR )(?<!KEY )(?<!DO )UPDATE|DELETE\s+FROM)\s+(?:public\.)?([a-z_]+)", re.IGNORECASE
)


def sql_writers(root: Path = ROOT) -> dict[str, set[str]]:
    """For each app, the sql/queries files its modules run (``run_query("name", ...)``)."""
    runs: dict[str, set[str]] = {}
    for module, path in app_modules(root, APPS):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "run_query"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                runs.setdefault(module.split(".")[0], set()).add(node.args[0].value)
    return runs


def written_tables(name: str) -> set[str]:
    texts = [read_sql(f"queries/{name}")]
    twin = ROOT / "sql" / "queries" / "sqlite" / f"{name}.sql"
    if twin.exists():
        texts.append(read_sql(f"queries/sqlite/{name}"))
    # Comments name other tables in prose ("deleting ... from history"); only statements count.
    code = [re.sub(r"--[^\n]*", "", text) for text in texts]
    return {table.lower() for text in code for table in WRITE.findall(text)} - {"temp"}


def test_each_query_writes_only_tables_of_the_app_that_runs_it():
    # The counters of stats are written by stats.services only; storage quota by billing only.
    owner = {model._meta.db_table: model._meta.app_label for model in apps.get_models()}
    found = []
    for app, names in sorted(sql_writers().items()):
        for name in sorted(names):
            for table in sorted(written_tables(name)):
                if table.startswith("versatools_"):
                    continue  # the SQLite twins' scratch tables
                if owner.get(table) != app:
                    found.append(f"{app} runs {name}.sql, which writes {table} ({owner.get(table)}'s)")
    assert found == []


def test_the_writer_check_sees_a_query_writing_another_apps_table():
    assert "usage_counters" in written_tables("usage_counter_consume")
    assert written_tables("history_expired_delete") == {"history"}
