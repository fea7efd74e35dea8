"""Helpers shared by the benchmarks: a scratch database, migrated, and the loopback S3 server."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen) -> None:
    """Terminate a process we started, killing it if it does not go within 30 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@contextlib.contextmanager
def s3_server(bucket: str) -> Iterator[str]:
    """moto's S3 server (files/tests/s3_server.py) in a process of its own with ``bucket``: its endpoint."""
    server = subprocess.Popen(
        [PYTHON, "-m", "files.tests.s3_server", "--port", str(port := free_port()), "--bucket", bucket],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().startswith("ready"), "S3 server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server)
