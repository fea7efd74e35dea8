"""The product's processes for tests that drive it from outside: gunicorn and a Celery worker.

Both read the pytest database and the Redis at TEST_REDIS_URL, with the
storage a test chose (a filesystem folder or the moto S3 server). Clients
authenticate with Supabase-style bearer tokens (``token_for``).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jwt
import redis
import requests

from conftest import JWT_TEST_SECRET
from files.tests.conftest import CELERY, ROOT, Worker, redis_url, subprocess_env, wait_until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def token_for(user) -> dict[str, str]:
    claims = {"sub": str(user.id), "aud": "authenticated", "exp": int(time.time()) + 600}
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_TEST_SECRET, algorithm='HS256')}"}


class Stack:
    def __init__(self, base_url: str, worker: Worker, web: subprocess.Popen[str], env: dict[str, str]) -> None:
        self.base_url = base_url
        self.worker = worker
        self.web = web
        self.env = env

    def shut_down(self) -> None:
        """Warm shutdown: the worker finishes the task in hand, so nothing is cut mid-store."""
        if self.worker.proc.poll() is None:
            self.worker.proc.send_signal(signal.SIGTERM)
            self.worker.proc.wait(timeout=60)
        self.web.terminate()
        self.web.wait(timeout=30)


def _answers(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/api/plans", timeout=1).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False  # not listening yet, or a worker still importing the app on a busy machine


@contextmanager
def running_stack(storage_env: dict[str, str], *, web_workers: int = 1) -> Iterator[Stack]:
    """gunicorn (``web_workers`` processes) and one Celery worker; both killed on exit."""
    url = redis_url()
    redis.Redis.from_url(url).flushdb()
    env = subprocess_env(storage_env, REDIS_URL=url, SUPABASE_JWT_SECRET=JWT_TEST_SECRET, ALLOWED_HOSTS="127.0.0.1")
    worker = Worker(env, queue="celery")
    port = free_port()
    web = subprocess.Popen(
        [
            str(Path(CELERY).with_name("gunicorn")),
            "versatools.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(web_workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = Stack(f"http://127.0.0.1:{port}", worker, web, env)
    try:
        worker.wait_ready()
        wait_until(lambda: _answers(stack.base_url), timeout=30, message="gunicorn did not start")
        yield stack
    finally:
        web.kill()
        web.wait(timeout=30)
        worker.stop()
