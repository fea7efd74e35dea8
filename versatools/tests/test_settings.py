from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from versatools.config import database_from_url, email_from_url, env_bool, env_int, oauth_app

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DIRECT_URL", "REDIS_URL"}}
    env.update(overrides)
    return env


def test_pgbouncer_url_yields_transaction_pooling_safe_config() -> None:
    config = database_from_url(
        "DATABASE_URL",
        "postgres://app:secret@pooler.example.com:6543/postgres?pgbouncer=true&sslmode=require",
        conn_max_age=60,
    )

    assert config["HOST"] == "pooler.example.com"
    assert config["PORT"] == 6543
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert config["OPTIONS"] == {"sslmode": "require", "prepare_threshold": None}
    assert "pgbouncer" not in repr(config)


def test_direct_url_keeps_server_side_cursors_and_prepared_statements() -> None:
    config = database_from_url("DIRECT_URL", "postgres://app@db.example.com:5432/postgres", conn_max_age=0)

    assert config["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert "prepare_threshold" not in config.get("OPTIONS", {})


@pytest.mark.parametrize(
    "url",
    ["not a url", "http://example.com/db", "postgres://db.example.com:5432/", "postgres://u@h:notaport/db"],
)
def test_malformed_database_url_is_refused_naming_the_variable(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_from_url("DATABASE_URL", url, conn_max_age=0)


@pytest.mark.slow
def test_malformed_database_url_stops_manage_py_with_a_readable_error() -> None:
    result = run_manage("check", env=clean_env(DATABASE_URL="http://nowhere/db"))

    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL must be a postgres:// or sqlite:/// URL" in result.stderr


@pytest.mark.parametrize("reader,raw", [(env_int, "twelve"), (env_bool, "maybe")])
def test_bad_typed_values_name_their_variable(monkeypatch: pytest.MonkeyPatch, reader, raw: str) -> None:
    monkeypatch.setenv("SOME_SETTING", raw)

    with pytest.raises(ImproperlyConfigured, match="SOME_SETTING"):
        reader("SOME_SETTING", 1)


@pytest.mark.slow
def test_production_requires_a_secret_key() -> None:
    result = run_manage("check", env=clean_env(DJANGO_ENV="production", ALLOWED_HOSTS="example.com", SECRET_KEY=""))

    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


@pytest.mark.slow
def test_production_settings_pass_the_deploy_check() -> None:
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=clean_env(
            DJANGO_ENV="production",
            ALLOWED_HOSTS="versatools.example.com",
            SECRET_KEY="x" * 20 + uuid.uuid4().hex + "-Long_and+random!" * 2,
            EMAIL_URL="smtp+tls://mailer:secret@smtp.example.com:587",
        ),
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_without_redis_url_tasks_run_eagerly() -> None:
    result = run_manage(
        "shell", "-c", "from versatools.celery import app; print('eager', app.conf.task_always_eager)", env=clean_env()
    )

    assert result.returncode == 0, result.stderr
    assert "eager True" in result.stdout
    assert "REDIS_URL is not set: Celery tasks run in-process" in result.stderr


@pytest.mark.slow
def test_with_redis_url_the_broker_is_redis() -> None:
    result = run_manage(
        "shell",
        "-c",
        "from versatools.celery import app; print(app.conf.task_always_eager, app.conf.broker_url)",
        env=clean_env(REDIS_URL="redis://127.0.0.1:6379/15"),
    )

    assert result.returncode == 0, result.stderr
    assert "False redis://127.0.0.1:6379/15" in result.stdout


@pytest.mark.slow
def test_migrate_connects_through_direct_url() -> None:
    default = settings.DATABASES["default"]
    admin_dsn = f"host={default['HOST']} port={default['PORT']} user={default['USER']} dbname=postgres"
    scratch = f"versatools_direct_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    try:
        base = f"postgres://{default['USER']}@{default['HOST']}:{default['PORT']}"
        result = run_manage(
            "migrate",
            "--noinput",
            # The app URL points at a database that does not exist: only DIRECT_URL can succeed.
            env=clean_env(DATABASE_URL=f"{base}/no_such_database_{scratch}", DIRECT_URL=f"{base}/{scratch}"),
        )

        assert result.returncode == 0, result.stderr
        assert f"Migrating through DIRECT_URL ({default['HOST']}:{default['PORT']}/{scratch})" in result.stdout
        with psycopg.connect(admin_dsn.replace("dbname=postgres", f"dbname={scratch}")) as conn:
            applied = conn.execute("SELECT count(*) FROM django_migrations WHERE app = 'history'").fetchone()
        assert applied is not None and applied[0] >= 2
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


@pytest.mark.parametrize(
    "key,reason",
    [
        ("dev-insecure-key-not-for-production", "is a published development key"),
        ("compose-dev-secret-change-me", "is a published development key"),
        ("django-insecure-" + "q" * 40, "is a published development key"),
        ("short-but-not-empty", "must be at least 32 characters"),
    ],
    ids=["settings-dev-key", "old-compose-default", "django-insecure", "short"],
)
@pytest.mark.slow
def test_production_refuses_a_published_or_weak_secret_key(key: str, reason: str) -> None:
    result = run_manage("check", env=clean_env(DJANGO_ENV="production", ALLOWED_HOSTS="example.com", SECRET_KEY=key))

    assert result.returncode != 0
    assert f"ImproperlyConfigured: SECRET_KEY {reason}" in result.stderr


# --- Mail and OAuth sign-in ----------------------------------------------------


def test_an_smtp_url_becomes_djangos_mail_settings() -> None:
    config = email_from_url("EMAIL_URL", "smtp+tls://mailer:p%40ss@smtp.example.com:587")

    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (config["EMAIL_HOST"], config["EMAIL_PORT"], config["EMAIL_USE_TLS"]) == ("smtp.example.com", 587, True)
    assert (config["EMAIL_HOST_USER"], config["EMAIL_HOST_PASSWORD"]) == ("mailer", "p@ss")


@pytest.mark.parametrize("url", ["smtp://", "mailto://x@example.com", "smtp.example.com:587", "bogus://host"])
def test_an_unusable_mail_url_names_the_variable(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        email_from_url("EMAIL_URL", url)


@pytest.mark.slow
def test_development_mail_goes_to_the_console_unless_email_url_is_set() -> None:
    probe = "import django; django.setup(); from django.conf import settings; print(settings.EMAIL_BACKEND)"
    console = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=clean_env(DJANGO_SETTINGS_MODULE="versatools.settings", EMAIL_URL=""),
        capture_output=True,
        text=True,
        timeout=120,
    )
    smtp = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=clean_env(DJANGO_SETTINGS_MODULE="versatools.settings", EMAIL_URL="smtp://smtp.example.com:25"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert console.stdout.strip() == "django.core.mail.backends.console.EmailBackend", console.stderr
    assert smtp.stdout.strip() == "django.core.mail.backends.smtp.EmailBackend", smtp.stderr


def test_an_oauth_provider_needs_both_of_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_CLIENT_ID", raising=False)
    monkeypatch.delenv("GITHUB_CLIENT_SECRET", raising=False)
    assert oauth_app("GitHub", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET") is None

    monkeypatch.setenv("GITHUB_CLIENT_ID", "gh-id")
    with pytest.raises(ImproperlyConfigured, match="GITHUB_CLIENT_SECRET"):
        oauth_app("GitHub", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET")

    monkeypatch.setenv("GITHUB_CLIENT_SECRET", "gh-secret")
    assert oauth_app("GitHub", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET") == {
        "client_id": "gh-id",
        "secret": "gh-secret",
        "key": "",
    }


@pytest.mark.slow
def test_production_without_email_url_warns_on_the_deploy_check() -> None:
    result = run_manage(
        "check",
        "--deploy",
        env=clean_env(
            DJANGO_ENV="production",
            ALLOWED_HOSTS="versatools.example.com",
            SECRET_KEY="x" * 20 + uuid.uuid4().hex + "-Long_and+random!" * 2,
        ),
    )

    assert result.returncode == 0, result.stderr  # a warning: the stack still starts
    assert "versatools.W002" in result.stderr + result.stdout
