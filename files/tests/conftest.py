"""Fixtures for the storage tests: a real S3 server, a filesystem, Celery workers.

Nothing here is a mock: the S3 path talks HTTP to moto's S3 server on
loopback through django-storages and boto3, the filesystem path writes real
files, and workers are real ``celery -A versatools worker`` processes on the
Redis at TEST_REDIS_URL, reading the pytest database.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from botocore.config import Config
from celery import Celery
from django.db import connection
from django.utils import timezone

from files.tests.s3_server import Hooks, S3Server, bucket_keys

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CELERY = str(Path(sys.executable).with_name("celery"))
_seq = itertools.count(1)


def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.fail("Set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/13): the Celery tests need a real Redis.")
    return url


def test_database_url() -> str:
    """The URL of the pytest database, for processes started by a test."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def subprocess_env(storage_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DIRECT_URL", "REDIS_URL", "MEDIA_ROOT"} and not k.startswith(("S3_", "AWS_"))
    }
    env.update(
        DATABASE_URL=test_database_url(),
        DB_CONN_MAX_AGE="0",
        DJANGO_SETTINGS_MODULE="versatools.settings",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
    )
    env.update(storage_env)
    env.update(extra)
    return env


# --- Storage backends ---------------------------------------------------------


@dataclass
class StorageEnv:
    kind: str
    env: dict[str, str]
    root: Path | None = None
    bucket: str = ""
    server: S3Server | None = None

    def keys(self) -> set[str]:
        """Every object key in this storage right now."""
        if self.kind == "s3":
            return bucket_keys(self.bucket)
        assert self.root is not None
        return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()}

    def put(self, key: str, body: bytes = b"x") -> None:
        if self.kind == "s3":
            assert self.server is not None
            self.server.put(self.bucket, key, body)
            return
        assert self.root is not None
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    yield server
    server.stop()


def s3_storages(endpoint: str, bucket: str, *, attempts: int = 1) -> dict[str, Any]:
    """settings.STORAGES["default"] as production builds it for S3_BUCKET, pointed at ``endpoint``."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "access_key": "testing",
            "secret_key": "testing",
            "addressing_style": "path",
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
            # One attempt: an outage test should not wait out botocore's backoff.
            "client_config": Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                retries={"max_attempts": attempts, "mode": "standard"},
                connect_timeout=2,
                read_timeout=20,
            ),
        },
    }


@pytest.fixture
def s3_storage(s3_server: S3Server, settings: Any) -> Iterator[StorageEnv]:
    if not s3_server.running:
        s3_server.start()
    bucket = f"vt-{uuid.uuid4().hex[:16]}"
    s3_server.create_bucket(bucket)
    s3_server.log.clear()
    s3_server.hooks = Hooks()
    settings.STORAGES = {**settings.STORAGES, "default": s3_storages(s3_server.endpoint, bucket)}
    env = {
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": s3_server.endpoint,
        "S3_ACCESS_KEY_ID": "testing",
        "S3_SECRET_ACCESS_KEY": "testing",
        "S3_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "2",
    }
    yield StorageEnv(kind="s3", env=env, bucket=bucket, server=s3_server)
    s3_server.hooks = Hooks()
    if not s3_server.running:
        s3_server.start()


@pytest.fixture
def fs_storage(tmp_path: Path, settings: Any) -> StorageEnv:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}},
    }
    return StorageEnv(kind="filesystem", env={"MEDIA_ROOT": str(root)}, root=root)


@pytest.fixture(params=["filesystem", "s3"])
def any_storage(request: pytest.FixtureRequest) -> StorageEnv:
    return request.getfixturevalue("fs_storage" if request.param == "filesystem" else "s3_storage")


# --- Data ---------------------------------------------------------------------


@dataclass
class Seeded:
    run_ids: list[uuid.UUID] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


@pytest.fixture
def seed_runs() -> Callable[..., Seeded]:
    """Finished runs with one stored object each, rows and blobs created in bulk (no quota counted)."""
    from files import storage
    from files.models import StorageObject
    from history.models import History, RunStatus

    def seed(storage_env: StorageEnv, users: list[Any], count: int, *, expired: bool = True) -> Seeded:
        now = timezone.now()
        expires_at = now - timedelta(hours=1) if expired else now + timedelta(hours=24)
        provider, bucket = storage.describe(storage.default_backend())
        seeded = Seeded()
        runs, objects = [], []
        for i in range(count):
            user = users[i % len(users)]
            run = History(
                user_id=user.id,
                tool_id="pdf-merge",
                tool_name="PDF Merger",
                input_file_name="in.pdf",
                status=RunStatus.COMPLETED,
                idempotency_key=f"seed-{next(_seq)}",
                expires_at=expires_at + timedelta(microseconds=i),
            )
            key = storage.build_key(user_id=user.id, entity="runs", ext="pdf", at=now)
            runs.append(run)
            objects.append(
                StorageObject(
                    user_id=user.id,
                    run_id=run.id,
                    provider=provider,
                    bucket=bucket,
                    key=key,
                    original_name="in.pdf",
                    content_type="application/pdf",
                    size=3,
                    expires_at=run.expires_at,
                )
            )
            storage_env.put(key, b"pdf")
            seeded.run_ids.append(run.id)
            seeded.keys.append(key)
        History.objects.bulk_create(runs, batch_size=2000)
        StorageObject.objects.bulk_create(objects, batch_size=2000)
        return seeded

    return seed


# --- Processes ----------------------------------------------------------------


class Worker:
    """A ``celery -A versatools worker`` process on its own queue."""

    def __init__(self, env: dict[str, str], *, queue: str, pool: str = "prefork") -> None:
        self.queue = queue
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [
                CELERY,
                "-A",
                "versatools",
                "worker",
                f"--pool={pool}",
                "--concurrency=1",
                "-Q",
                queue,
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(" ready." in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail("The Celery worker did not start:\n" + "\n".join(self.lines[-40:]))

    def child_pids(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            for child in self.child_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def celery_workers() -> Iterator[Callable[..., Worker]]:
    """Start Celery worker processes; each test gets a fresh queue. All are killed at teardown."""
    url = redis_url()
    redis.Redis.from_url(url).flushdb()
    queue = f"files-test-{uuid.uuid4().hex[:8]}"
    started: list[Worker] = []

    def start(storage_env: StorageEnv, **extra: str) -> Worker:
        worker = Worker(subprocess_env(storage_env.env, REDIS_URL=url, **extra), queue=queue)
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def send_task() -> Iterator[Callable[..., None]]:
    """Send a task by name through the broker, as beat would (this process itself runs eagerly)."""
    # Not the current app: later tests in this process keep queueing to the eager app of the settings.
    sender = Celery("test-sender", broker=redis_url(), set_as_current=False)

    def send(name: str, *, queue: str, **kwargs: Any) -> None:
        sender.send_task(name, kwargs=kwargs, queue=queue)

    yield send
    sender.close()


def manage(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.05, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(message or "timed out")
