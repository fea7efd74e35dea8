"""Helpers shared by the benchmarks: a scratch database, migrated, and process timing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def bench_database_url(name: str) -> str:
    """A URL for database ``name`` on the server of DATABASE_URL (default: local PostgreSQL)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/versatools")
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}", query=""))


def admin_dsn(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres", query=""))


def recreate_database(url: str) -> None:
    """Drop and create the benchmark database, then migrate it."""
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_dsn(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("DIRECT_URL", None)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
