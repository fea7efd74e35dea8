"""Uploads through gunicorn two ways, beside a raw reference, with the app's storage on a loopback S3 server.

N files of M MB are sent by C concurrent clients (threads with their own
``requests`` session and their own user) to gunicorn with W sync workers:

- multipart: ``POST /api/runs`` with the file in the body, so every byte
  goes through a web worker (parsed, spooled, hashed, sniffed) and from it to S3;
- direct: ``POST /api/uploads`` reserves and signs a target, the client sends
  the bytes straight to S3 with it, then ``POST /api/runs`` with the
  ``upload_id`` starts the run: only the two small requests reach gunicorn;
- raw: the same files sent by C threads with boto3 ``put_object`` straight to
  the S3 server (no Django), the reference for wall time.

Printed per path: wall time, uploads/s, wall time relative to raw, web worker
CPU seconds per upload (utime+stime of gunicorn's workers from /proc, before
and after), and the workers' RSS after the warm-up and at peak (VmHWM; each
app path gets a fresh gunicorn, so the peak is that path's). Then the ratio of
worker CPU per upload, multipart to direct (aim >= 10x). The runs stay
PENDING: no Celery worker runs; the tasks queue in Redis db 9, flushed at the end.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/versatools .venv/bin/python bench/bench_uploads.py
    ... --files 24 --size-mb 1            # quick
    ... --direct-method put               # presigned PUT targets (Supabase Storage) instead of POST

The benchmark database (versatools_bench_uploads) is dropped and recreated.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    PYTHON,
    ROOT,
    bench_database_url,
    bench_people,
    free_port,
    isolated_environ,
    recreate_database,
    s3_server,
    stop,
)
from bench.common import bearer as common_bearer  # noqa: E402

DATABASE = "versatools_bench_uploads"
BUCKET = "bench-uploads"
REDIS_URL = "redis://127.0.0.1:6379/9"
JWT_SECRET = f"bench-uploads-jwt-secret-{uuid.uuid4().hex}"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TIMEOUT = (10, 600)  # (connect, read) seconds: on a small machine 8 x 5 MB at once can take a while


def pdf_body(size: int) -> bytes:
    """A PDF as far as the server's sniff can tell (it reads the first 8 KB), padded to ``size``."""
    header = b"%PDF-1.4\n"
    return header + b"0" * (size - len(header))


# --- Users, in the scratch database (a child process: Django stays out of this one) ------------


def setup_child(users: int, max_file_bytes: int) -> None:
    import django

    django.setup()
    people = bench_people(users, prefix="bench-uploads", max_file_bytes=max_file_bytes)
    print(json.dumps([str(person.id) for person in people]))


def setup_users(url: str, users: int, max_file_bytes: int) -> list[str]:
    env = base_env(url)
    env.pop("REDIS_URL", None)  # nothing to queue while creating users
    done = subprocess.run(
        [PYTHON, __file__, "--setup", str(users), "--max-file-bytes", str(max_file_bytes)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"user setup failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bearer(user_id: str) -> dict[str, str]:
    return common_bearer(user_id, JWT_SECRET)


# --- Processes: the S3 server and gunicorn ------------------------------------------------------


def base_env(url: str) -> dict[str, str]:
    # As files/tests/conftest.py's subprocess_env: none of the caller's storage or broker settings leak in.
    env = isolated_environ()
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="versatools.settings",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
        DEBUG="false",  # as in production: no query log kept per request
        # An empty STATIC_ROOT: nothing here serves pages, but WhiteNoise warns about a missing one.
        STATIC_ROOT=tempfile.mkdtemp(prefix="bench-uploads-static-"),
    )
    # DB_CONN_MAX_AGE stays at its default (60 s), as in production: a worker keeps its connection.
    return env


def web_env(url: str, endpoint: str, direct_method: str) -> dict[str, str]:
    env = base_env(url)
    env.update(
        S3_BUCKET=BUCKET,
        S3_ENDPOINT_URL=endpoint,
        S3_ACCESS_KEY_ID="testing",
        S3_SECRET_ACCESS_KEY="testing",
        S3_REGION="us-east-1",
        DIRECT_UPLOAD_METHOD=direct_method,
        # Set, so the run is queued after commit; unset, Celery would run it eagerly inside the web worker.
        REDIS_URL=REDIS_URL,
        SUPABASE_JWT_SECRET=JWT_SECRET,
        ALLOWED_HOSTS="127.0.0.1",
    )
    return env


@dataclass
class Web:
    base_url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return sorted(int(pid) for pid in path.read_text().split()) if path.exists() else []


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int, log: Path) -> Iterator[Web]:
    import requests

    port = free_port()
    with open(log, "ab") as output:
        proc = subprocess.Popen(
            [
                str(Path(PYTHON).with_name("gunicorn")),
                "versatools.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                # Not the default 30 s: a worker busy with a slow upload on a loaded machine must not be
                # killed and replaced, which would also lose its CPU time from the count.
                "--timeout",
                "600",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    web = Web(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{log.read_text()[-3000:]}")
            # Not only refused connections: on a busy machine the first answer may take longer than the timeout.
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{web.base_url}/api/plans", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not answer within 60 s")
            time.sleep(0.1)
        # Every worker booted (each loads the app itself after the fork), not only the one that answered.
        while len(web.worker_pids()) < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        yield web
    finally:
        pids = web.worker_pids()
        stop(proc)
        for pid in pids:  # a worker the master did not take down with it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --- Measuring the workers from /proc -----------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes, in seconds."""
    total = 0
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # The command name (field 2) may hold spaces: the fields after its ")" start at field 3 (state).
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15
    return total / CLOCK_TICKS


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


# --- The clients ----------------------------------------------------------------------------------


def shares(total: int, clients: int) -> list[int]:
    """Files per client, as even as they can be."""
    return [total // clients + (1 if index < total % clients else 0) for index in range(clients)]


def run_clients(clients: int, total: int, upload: Callable[[int, int], None]) -> float:
    """``upload(client, number)`` ``total`` times over ``clients`` threads at once; the wall time."""
    counts = shares(total, clients)
    start = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        start.wait()
        for number in range(counts[index]):
            upload(index, number)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(client, index) for index in range(clients)]
        start.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()  # an upload's failure ends the benchmark with its reason
        return time.perf_counter() - started


def expect(response, statuses: tuple[int, ...], what: str) -> None:
    if response.status_code not in statuses:
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:500]}")


class AppClients:
    """One requests session to gunicorn and one to S3 per client, each client with its own user."""

    def __init__(self, base_url: str, user_ids: list[str], body: bytes, tool_id: str) -> None:
        import requests

        self.base_url = base_url
        self.body = body
        self.tool_id = tool_id
        self.auth = [bearer(user_id) for user_id in user_ids]
        self.web = [requests.Session() for _ in user_ids]
        self.s3 = [requests.Session() for _ in user_ids]

    def multipart(self, client: int, number: int) -> None:
        response = self.web[client].post(
            f"{self.base_url}/api/runs",
            data={"tool_id": self.tool_id},
            files={"file": ("in.pdf", self.body, "application/pdf")},
            headers={**self.auth[client], "Idempotency-Key": f"multipart-{uuid.uuid4()}"},
            timeout=TIMEOUT,
        )
        expect(response, (201,), "POST /api/runs (multipart)")

    def direct(self, client: int, number: int) -> None:
        reserved = self.web[client].post(
            f"{self.base_url}/api/uploads",
            json={
                "tool_id": self.tool_id,
                "file_name": "in.pdf",
                "content_type": "application/pdf",
                "size": len(self.body),
            },
            headers=self.auth[client],
            timeout=TIMEOUT,
        )
        expect(reserved, (201,), "POST /api/uploads")
        reservation = reserved.json()
        target = reservation["target"]
        if target["method"] == "PUT":
            sent = self.s3[client].put(target["url"], data=self.body, headers=target["headers"], timeout=TIMEOUT)
        else:
            sent = self.s3[client].post(
                target["url"], data=target["fields"], files={"file": ("blob", self.body)}, timeout=TIMEOUT
            )
        expect(sent, (200, 201, 204), f"{target['method']} to S3")
        started = self.web[client].post(
            f"{self.base_url}/api/runs",
            data={"tool_id": self.tool_id, "upload_id": reservation["upload_id"]},
            headers={**self.auth[client], "Idempotency-Key": f"direct-{uuid.uuid4()}"},
            timeout=TIMEOUT,
        )
        expect(started, (201,), "POST /api/runs (upload_id)")

    def close(self) -> None:
        for session in (*self.web, *self.s3):
            session.close()


# --- The phases -----------------------------------------------------------------------------------


@dataclass
class Result:
    wall: float
    cpu_per_upload: float | None = None
    rss_after_warmup_mb: float | None = None
    peak_rss_mb: float | None = None


def s3_client(endpoint: str, clients: int):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=clients),
    )


def empty_bucket(client) -> None:
    """Delete what a phase stored, so that each phase meets the S3 server in the same state."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})


def raw_phase(endpoint: str, body: bytes, files: int, clients: int, warmup: int) -> Result:
    client = s3_client(endpoint, clients)

    def put(index: int, number: int) -> None:
        client.put_object(Bucket=BUCKET, Key=f"raw/{uuid.uuid4()}.pdf", Body=body, ContentType="application/pdf")

    run_clients(clients, warmup * clients, put)
    result = Result(wall=run_clients(clients, files, put))
    empty_bucket(client)
    return result


def app_phase(
    name: str,
    env: dict[str, str],
    endpoint: str,
    user_ids: list[str],
    body: bytes,
    args: argparse.Namespace,
    log: Path,
) -> Result:
    with gunicorn(env, args.web_workers, log) as web:
        app = AppClients(web.base_url, user_ids, body, args.tool)
        upload = app.multipart if name == "multipart" else app.direct
        try:
            run_clients(args.clients, args.warmup * args.clients, upload)
            pids = web.worker_pids()
            rss_after_warmup = max(status_kb(pid, "VmRSS") for pid in pids)
            cpu_before = cpu_seconds(pids)
            wall = run_clients(args.clients, args.files, upload)
            if web.worker_pids() != pids:
                # A replaced worker's CPU time would be missing from the sum.
                raise SystemExit(f"{name}: gunicorn replaced a worker during the phase; see {log}")
            cpu = cpu_seconds(pids) - cpu_before
            # VmHWM is each worker's lifetime peak: this gunicorn lived for this phase only.
            peak = max(status_kb(pid, "VmHWM") for pid in pids)
        finally:
            app.close()
    empty_bucket(s3_client(endpoint, 1))
    return Result(
        wall=wall, cpu_per_upload=cpu / args.files, rss_after_warmup_mb=rss_after_warmup / 1024, peak_rss_mb=peak / 1024
    )


def flush_redis() -> None:
    import redis

    with contextlib.suppress(redis.ConnectionError):
        redis.Redis.from_url(REDIS_URL).flushdb()


# --- Main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="Upload benchmark: multipart through gunicorn vs direct to S3")
    parser.add_argument("--files", type=int, default=200, help="uploads measured per path")
    parser.add_argument("--size-mb", type=float, default=5, help="size of each file in MB (MiB)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (threads)")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--warmup", type=int, default=2, help="uploads per client before measuring (not counted)")
    parser.add_argument("--tool", default="pdf-compress", help="a single-input PDF tool")
    parser.add_argument("--direct-method", choices=["post", "put"], default="post", help="DIRECT_UPLOAD_METHOD")
    parser.add_argument("--setup", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--max-file-bytes", type=int, help=argparse.SUPPRESS)
    # Run by bench/run.py, the command line is run.py's: use the defaults.
    own_command_line = Path(sys.argv[0]).resolve() == Path(__file__).resolve()
    args = parser.parse_args(sys.argv[1:] if own_command_line else [])
    if args.setup is not None:
        setup_child(args.setup, args.max_file_bytes)
        return

    size = int(args.size_mb * 1024 * 1024)
    body = pdf_body(size)
    url = bench_database_url(DATABASE)
    print(
        f"uploads, {args.files} files x {args.size_mb:g} MB, {args.clients} clients, gunicorn {args.web_workers}"
        f" sync workers, S3 on loopback (moto), direct target {args.direct_method.upper()}; database {DATABASE}"
    )
    # Clients, gunicorn, the S3 server and PostgreSQL share this machine: wall times depend on what else runs.
    print(f"  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    recreate_database(url)
    user_ids = setup_users(url, args.clients, max(size, 50 * 1024 * 1024))
    work = Path(tempfile.mkdtemp(prefix="bench-uploads-"))
    log = work / "gunicorn.log"
    flush_redis()
    try:
        with s3_server(BUCKET) as endpoint:
            env = web_env(url, endpoint, args.direct_method)
            raw = raw_phase(endpoint, body, args.files, args.clients, args.warmup)
            multipart = app_phase("multipart", env, endpoint, user_ids, body, args, log)
            direct = app_phase("direct", env, endpoint, user_ids, body, args, log)
    finally:
        flush_redis()

    print(
        f"  {'':10} {'wall s':>7} {'uploads/s':>10} {'wall/raw':>9} {'worker CPU s/upload':>20}"
        f" {'worker RSS MB after warm-up':>28} {'peak':>7}"
    )
    for name, result in (("raw boto3", raw), ("multipart", multipart), ("direct", direct)):
        cpu = f"{result.cpu_per_upload:.4f}" if result.cpu_per_upload is not None else "-"
        rss = f"{result.rss_after_warmup_mb:.1f}" if result.rss_after_warmup_mb is not None else "-"
        peak = f"{result.peak_rss_mb:.1f}" if result.peak_rss_mb is not None else "-"
        print(
            f"  {name:10} {result.wall:7.2f} {args.files / result.wall:10.1f} {result.wall / raw.wall:8.2f}x"
            f" {cpu:>20} {rss:>28} {peak:>7}"
        )
    assert multipart.cpu_per_upload is not None and direct.cpu_per_upload is not None
    ratio = multipart.cpu_per_upload / direct.cpu_per_upload if direct.cpu_per_upload else float("inf")
    print(f"  worker CPU per upload, multipart / direct: {ratio:.1f}x (aim >= 10x)")
    logged = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    if logged:
        print(f"  gunicorn logged {len(logged)} line(s) at WARNING or above, the first: {logged[0][:200]}")
    log.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
