"""docker-compose.yml, checked without a Docker engine.

What can go wrong without anyone noticing until a deploy: a command naming a
module that does not exist, a variable the settings never read (a typo that
silently keeps the default), a missing health check, a second beat.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from django.core.management import get_commands

from versatools.config import database_from_url

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# Services running this repository's image (web, worker, beat, migrate).
APP_SERVICES = sorted(name for name, service in SERVICES.items() if "build" in service)
STATEFUL = ("postgres", "pgbouncer", "redis", "minio")


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def shell_steps(argv: list[str]) -> list[list[str]]:
    """``sh -c "a && b"`` -> [[a...], [b...]]; anything else is one step."""
    if argv[:2] == ["sh", "-c"]:
        return [shlex.split(step) for step in argv[2].split("&&")]
    return [argv]


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ``${NAME:-default}`` and ``${NAME:?error}`` (default ``env``: what an empty .env gives).

    A required variable that is unset or empty raises, as ``docker compose``
    refuses to start with the error message.
    """

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        value = (env or {}).get(name, "")
        if value:
            return value
        if operator == ":?":
            raise ValueError(f"required variable {name} is missing a value: {argument}")
        return argument

    return re.sub(r"\$\{(\w+)(:-|:\?)([^}]*)\}", substitute, value)


# The least a .env must hold for `docker compose up`.
MINIMAL_DOT_ENV = {"SECRET_KEY": "a-secret-of-ones-own-" + "k3Y" * 12}


def variables_read_by_settings() -> set[str]:
    """Every environment variable the settings (and the Celery app) look up, in every branch.

    Recorded in a fresh process by a mapping in place of ``os.environ``,
    loaded twice: development with filesystem storage, production with S3.
    """
    probe = """
import json, os, sys
seen = set()
class Recording(dict):
    def __getitem__(self, key): seen.add(key); return super().__getitem__(key)
    def get(self, key, default=None): seen.add(key); return super().get(key, default)
    def __contains__(self, key): seen.add(key); return super().__contains__(key)
os.environ = Recording(os.environ)
import django
django.setup()
import versatools.celery
versatools.celery.app.loader.import_default_modules()
print(json.dumps(sorted(seen)))
"""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "DJANGO_", "SECRET", "ALLOWED"))}
    base["DJANGO_SETTINGS_MODULE"] = "versatools.settings"
    seen: set[str] = set()
    for extra in (
        {},
        {"DJANGO_ENV": "production", "SECRET_KEY": "k" * 60, "ALLOWED_HOSTS": "example.com", "S3_BUCKET": "b"},
    ):
        result = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, env={**base, **extra}, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        seen |= set(json.loads(result.stdout.strip().splitlines()[-1]))
    return seen


def test_the_stack_has_every_service() -> None:
    assert {"postgres", "pgbouncer", "redis", "minio", "minio-bucket", "web", "worker", "beat", "migrate"} <= set(
        SERVICES
    )
    assert {"web", "worker", "beat", "migrate"} <= set(APP_SERVICES)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_app_command_names_a_real_entry_point(name: str) -> None:
    steps = shell_steps(command_of(SERVICES[name]))

    for argv in steps:
        program = argv[0]
        if program == "gunicorn":
            module, _, attribute = argv[1].partition(":")
            assert callable(getattr(importlib.import_module(module), attribute))
        elif program == "celery":
            assert argv[1] == "-A"
            app = importlib.import_module(argv[2]).celery_app
            assert app.main == "versatools"
            assert argv[3] in {"worker", "beat"}
        elif program == "python":
            assert argv[1] == "manage.py"
            assert argv[2] in get_commands(), f"{name}: no manage.py command {argv[2]!r}"
        else:
            pytest.fail(f"{name}: unexpected program {program!r}")


@pytest.mark.slow
def test_every_variable_set_for_the_app_is_one_the_settings_read() -> None:
    read = variables_read_by_settings()
    assert {
        "DATABASE_URL",
        "DIRECT_URL",
        "REDIS_URL",
        "S3_ENDPOINT_URL",
        "SECURE_HSTS_SECONDS",
    } <= read  # the probe works

    for name in APP_SERVICES:
        unknown = set(SERVICES[name].get("environment", {})) - read
        assert not unknown, f"{name} sets variables no setting reads: {sorted(unknown)}"


def test_the_app_goes_through_the_pooler_and_migrates_directly() -> None:
    environment = {k: interpolate(str(v), MINIMAL_DOT_ENV) for k, v in SERVICES["web"]["environment"].items()}
    pooled = urlsplit(environment["DATABASE_URL"])
    direct = urlsplit(environment["DIRECT_URL"])
    pgbouncer = SERVICES["pgbouncer"]["environment"]

    assert (pooled.hostname, pooled.port) == ("pgbouncer", int(pgbouncer["LISTEN_PORT"]))
    assert pgbouncer["POOL_MODE"] == "transaction"
    assert (pgbouncer["DB_HOST"], int(pgbouncer["DB_PORT"])) == (direct.hostname, direct.port) == ("postgres", 5432)
    assert database_from_url("DATABASE_URL", environment["DATABASE_URL"], conn_max_age=60)[
        "DISABLE_SERVER_SIDE_CURSORS"
    ]
    assert urlsplit(environment["REDIS_URL"]).hostname == "redis"
    assert urlsplit(environment["S3_ENDPOINT_URL"]).hostname == "minio"


def test_the_app_and_its_bucket_agree() -> None:
    environment = SERVICES["web"]["environment"]
    bucket_step = " ".join(command_of(SERVICES["minio-bucket"]))

    assert f"local/{environment['S3_BUCKET']}" in bucket_step
    assert interpolate(environment["S3_ACCESS_KEY_ID"]) == interpolate(
        SERVICES["minio"]["environment"]["MINIO_ROOT_USER"]
    )
    assert interpolate(environment["S3_SECRET_ACCESS_KEY"]) == interpolate(
        SERVICES["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
    )


@pytest.mark.parametrize("name", [*STATEFUL, "web", "worker"])
def test_stateful_services_and_servers_have_health_checks(name: str) -> None:
    check = SERVICES[name].get("healthcheck", {})

    assert check.get("test"), f"{name} has no healthcheck"
    assert not check.get("disable")


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_app_processes_start_after_healthy_dependencies_and_migrations(name: str) -> None:
    depends = SERVICES[name]["depends_on"]

    for dependency in ("postgres", "pgbouncer", "redis"):
        assert depends[dependency] == {"condition": "service_healthy"}
    assert depends["migrate"] == {"condition": "service_completed_successfully"}
    assert depends["minio-bucket"] == {"condition": "service_completed_successfully"}
    assert set(depends) <= set(SERVICES)


def test_exactly_one_beat() -> None:
    beats = [
        name for name in SERVICES if "beat" in command_of(SERVICES[name]) and "celery" in command_of(SERVICES[name])
    ]

    assert beats == ["beat"]
    assert SERVICES["beat"].get("deploy", {}).get("replicas", 1) == 1
    assert "beat" not in " ".join(command_of(SERVICES["worker"]))  # no embedded beat (-B) either
    assert "-B" not in command_of(SERVICES["worker"])


def test_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        if "image" in service:
            assert not service["image"].endswith(":latest") and ":" in service["image"], name


def test_the_stack_runs_the_production_settings() -> None:
    for name in APP_SERVICES:
        environment = SERVICES[name]["environment"]
        # A literal, not ${DJANGO_ENV:-...}: no .env can switch it to development.
        assert environment["DJANGO_ENV"] == "production", name
        assert "DEBUG" not in environment, name


def test_the_stack_refuses_to_start_without_a_secret_key_of_ones_own() -> None:
    for name in APP_SERVICES:
        declared = str(SERVICES[name]["environment"]["SECRET_KEY"])
        assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", declared), f"{name}: SECRET_KEY is not required"
        with pytest.raises(ValueError, match="required variable SECRET_KEY"):
            interpolate(declared)
        with pytest.raises(ValueError, match="required variable SECRET_KEY"):
            interpolate(declared, {"SECRET_KEY": ""})
        assert interpolate(declared, {"SECRET_KEY": "s" * 50}) == "s" * 50
    # No published default left anywhere in the file.
    assert "compose-dev-secret" not in (ROOT / "docker-compose.yml").read_text()


@pytest.mark.slow
def test_the_compose_environment_loads_in_production_only_with_a_real_secret() -> None:
    environment = {k: str(v) for k, v in SERVICES["web"]["environment"].items()}
    probe = "import django; django.setup(); from django.conf import settings; print('debug', settings.DEBUG)"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "DJANGO_", "SECRET", "ALLOWED"))}
    base["DJANGO_SETTINGS_MODULE"] = "versatools.settings"

    def load(secret: str) -> subprocess.CompletedProcess[str]:
        resolved = {k: interpolate(v, {"SECRET_KEY": secret}) for k, v in environment.items()}
        return subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env={**base, **resolved},
            capture_output=True,
            text=True,
            timeout=120,
        )

    loaded = load("a-real-secret-" + "x7Q" * 16)
    assert loaded.returncode == 0, loaded.stderr
    assert "debug False" in loaded.stdout
    for published in ("compose-dev-secret-change-me", "dev-insecure-key-not-for-production"):
        refused = load(published)
        assert refused.returncode != 0
        assert "ImproperlyConfigured: SECRET_KEY is a published development key" in refused.stderr


def test_migrate_loads_the_catalog_without_overwriting_it_before_the_app_starts() -> None:
    steps = [argv[2] for argv in shell_steps(command_of(SERVICES["migrate"])) if argv[0] == "python"]

    assert steps.index("migrate") < steps.index("load_catalog") < steps.index("check")
    assert "loaddata" not in steps  # loaddata overwrites operators' edits on every start
