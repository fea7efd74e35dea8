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


def isolated_environ() -> dict[str, str]:
    """This process's environment without its database, broker and storage settings (none may leak in)."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DIRECT_URL", "REDIS_URL", "MEDIA_ROOT"} and not k.startswith(("S3_", "AWS_"))
    }


def app_env(url: str, *, media: Path, static: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """The app's environment for benchmark processes, as production runs it.

    As files/tests/conftest.py's subprocess_env: none of the caller's storage
    or broker settings leak in. DEBUG off (no query log per request), static
    files collected into ``static`` (WhiteNoise serves them), filesystem
    storage in ``media``, runs queued on ``redis_url``.
    """
    env = isolated_environ()
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="versatools.settings",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
        DEBUG="false",
        MEDIA_ROOT=str(media),
        STATIC_ROOT=str(static),
        REDIS_URL=redis_url,
        ALLOWED_HOSTS="127.0.0.1",
    )
    env.update(extra)
    return env


def run_child(env: dict[str, str], *args: str) -> str:
    """``python *args`` in the project with ``env``; its last line of output (exits with its errors)."""
    done = subprocess.run([PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@contextlib.contextmanager
def web_and_worker(
    env: dict[str, str],
    log: Path,
    *,
    web_workers: int = 2,
    worker: bool = True,
    wsgi: str = "versatools.wsgi:application",
) -> Iterator[str]:
    """gunicorn (``web_workers`` sync workers) and, unless told not to, one Celery worker; the web's base URL."""
    import time

    import requests

    port = free_port()
    bin_dir = Path(PYTHON).parent
    procs = []
    with open(log, "ab") as output:
        web = subprocess.Popen(
            [str(bin_dir / "gunicorn"), wsgi, "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers),
             "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(web)
        if worker:
            procs.append(
                subprocess.Popen(
                    [
                        str(bin_dir / "celery"),
                        "-A",
                        "versatools",
                        "worker",
                        "--concurrency=1",
                        "--without-heartbeat",
                        "--without-gossip",
                        "--without-mingle",
                        "--loglevel=WARNING",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}/api/plans", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline or web.poll() is not None:
                raise SystemExit(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield base
    finally:
        for proc in procs:
            stop(proc)


def percentile(values: list[float], share: float) -> float:
    """The value at ``share`` (0.5, 0.95) of the sorted values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def bench_people(count: int, *, prefix: str, password: str | None = None, max_file_bytes: int = 200 * 1024**2) -> list:
    """In a configured Django process: ``count`` verified people on an unlimited plan, with credits to spare.

    The plan ("bench": no run limit, a large storage quota, ``max_file_bytes``
    per file) is so that the plan's limits are never what a benchmark
    measures. Returns the users.
    """
    import uuid

    from accounts.models import User
    from accounts.services import email_mark_verified
    from billing.models import Plan
    from billing.services import credits_adjust
    from billing.subscriptions import subscription_change

    Plan.objects.update_or_create(
        key="bench",
        defaults={
            "name": "Bench",
            "credits": 0,
            "runs_per_window": None,
            "usage_window": "month",
            "max_file_bytes": max_file_bytes,
            "storage_bytes": 10**13,
        },
    )
    people = []
    for index in range(count):
        user = User.objects.create_user(
            email=f"{prefix}-{uuid.uuid4().hex[:10]}-{index}@example.com", password=password
        )
        email_mark_verified(user_id=user.id, email=user.email)
        credits_adjust(user_id=user.id, delta=10**8, reason="bench")
        subscription_change(user_id=user.id, plan_key="bench", status="active", event_type="bench")
        people.append(user)
    return people


def bearer(user_id: str, secret: str) -> dict[str, str]:
    """An Authorization header with a Supabase-style access token for ``user_id``, valid six hours."""
    import time

    import jwt

    claims = {"sub": user_id, "aud": "authenticated", "role": "authenticated", "exp": int(time.time()) + 6 * 3600}
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}
