"""Expired-storage cleanup: the service beside a raw reference, filesystem and S3.

For each backend, N expired runs with one stored file each are seeded, then
deleted twice over (seeded afresh in between):

- raw: one SQL DELETE (runs and their object rows, keys returned) plus a plain
  loop unlinking the files (filesystem) or DeleteObjects requests of 1,000
  keys straight through boto3 (S3);
- service: ``history.expiry.expire_runs_and_files`` in its own process, as
  the Celery task and ``cleanup_storage --yes`` run it.

Printed: rows+objects per second (a run is 3: its history row, its object
row, its blob), the ratio to raw, S3 requests per 1,000 objects (counted by
the loopback S3 server), and the cleanup process's peak RSS for two sizes of
backlog (memory must not grow with the backlog).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/versatools python bench/bench_cleanup.py
    ... --quick                 # 10,000 runs; memory at 2,000 and 20,000
    ... --runs 50000 --memory-sizes 20000,200000 --repeat 1

The benchmark database (versatools_bench_storage) is dropped and recreated.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from bench.common import PYTHON, ROOT, bench_database_url, recreate_database, s3_server  # noqa: E402

DATABASE = "versatools_bench_storage"
BUCKET = "bench-storage"
USERS = 1000
BODY = b"pdf"


# --- Seeding -------------------------------------------------------------------


def seed(url: str, runs: int, *, provider: str, bucket: str) -> list[str]:
    """N expired runs, one object row each, for USERS users. The object keys."""
    now = datetime.now(UTC)
    expired = now - timedelta(hours=1)
    tag = uuid.uuid4().hex[:8]
    users = [uuid.uuid4() for _ in range(USERS)]
    keys: list[str] = []
    history, objects = io.StringIO(), io.StringIO()
    for i in range(runs):
        user = users[i % USERS]
        run_id, object_id = uuid.uuid4(), uuid.uuid4()
        key = f"{user}/runs/{now:%Y}/{now:%m}/{object_id}.pdf"
        keys.append(key)
        at = (expired + timedelta(microseconds=i)).isoformat()
        history.write(f"{run_id}\t{user}\tpdf-merge\tPDF Merger\tCOMPLETED\tin.pdf\t\t\t{{}}\t\t3\t0\t0\t")
        history.write(f"bench-{tag}-{i}\t\t{at}\t{now.isoformat()}\t{now.isoformat()}\n")
        objects.write(f"{object_id}\tinput\t{provider}\t{bucket}\t{key}\tin.pdf\tapplication/pdf\t3\t")
        objects.write(f"{now.isoformat()}\t{now.isoformat()}\t{at}\t{run_id}\t{user}\n")
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO users (id, password, is_superuser, email, name, image, is_active, is_staff,"
                " created_at, updated_at)"
                " SELECT u, '!', false, 'bench-' || u || '@example.com', '', '', true, false, now(), now()"
                " FROM unnest(%s::uuid[]) AS u",
                [users],
            )
            with cur.copy(
                "COPY history (id, user_id, tool_id, tool_name, status, input_file_name, output_file_name,"
                " file_key, metadata, error_message, bytes_in, bytes_out, credits_charged, idempotency_key,"
                " request_fingerprint, expires_at, created_at, updated_at) FROM STDIN"
            ) as copy:
                copy.write(history.getvalue())
            with cur.copy(
                "COPY storage_objects (id, role, provider, bucket, key, original_name, content_type, size,"
                " created_at, updated_at, expires_at, run_id, user_id) FROM STDIN"
            ) as copy:
                copy.write(objects.getvalue())
        conn.execute("VACUUM ANALYZE users, history, storage_objects")
    return keys


def write_files(root: Path, keys: list[str]) -> None:
    made: set[str] = set()
    for key in keys:
        directory = key.rsplit("/", 1)[0]
        if directory not in made:
            (root / directory).mkdir(parents=True, exist_ok=True)
            made.add(directory)
        with open(root / key, "wb") as handle:
            handle.write(BODY)


def s3_seed(endpoint: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 5000):
        payload = json.dumps({"bucket": BUCKET, "keys": keys[start : start + 5000], "body": BODY.decode()}).encode()
        with urlopen(Request(f"{endpoint}/_seed", data=payload, method="POST")) as response:  # noqa: S310
            response.read()


def s3_requests(endpoint: str) -> int:
    with urlopen(f"{endpoint}/_log") as response:  # noqa: S310
        return int(json.loads(response.read())["total"])


def s3_env(endpoint: str) -> dict[str, str]:
    return {
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": endpoint,
        "S3_ACCESS_KEY_ID": "bench",
        "S3_SECRET_ACCESS_KEY": "bench",
        "S3_REGION": "us-east-1",
    }


# --- Raw reference ---------------------------------------------------------------

RAW_DELETE = """
WITH runs AS (DELETE FROM history WHERE expires_at <= now() RETURNING id)
DELETE FROM storage_objects AS so USING runs WHERE so.run_id = runs.id RETURNING so.key
"""
# The reference is the bare DELETE: without the storage_objects_deleted
# trigger (replica mode skips triggers; the bench connects as a superuser),
# which would otherwise owe every blob it deletes a second delete and give
# quota back, work the reference does not do and the service's next pass
# would then have to finish.
RAW_SESSION = "SET session_replication_role = replica"


def raw_filesystem(url: str, root: Path) -> float:
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_SESSION)
        keys = [row[0] for row in conn.execute(RAW_DELETE)]
    for key in keys:
        os.unlink(root / key)
    return time.perf_counter() - started


def raw_s3(url: str, endpoint: str) -> tuple[float, int]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    before = s3_requests(endpoint)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_SESSION)
        keys = [row[0] for row in conn.execute(RAW_DELETE)]
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
    return time.perf_counter() - started, s3_requests(endpoint) - before


# --- The service, in its own process -----------------------------------------------


def child() -> None:
    import django

    django.setup()
    from history.expiry import expire_runs_and_files

    baseline_kb = _status_kb("VmRSS")
    first_batch_kb: list[int] = []

    def after_batch(result: Any) -> None:
        if not first_batch_kb:
            first_batch_kb.append(_status_kb("VmHWM"))

    started = time.perf_counter()
    result = expire_runs_and_files(on_batch=after_batch)
    elapsed = time.perf_counter() - started
    peak_kb = _status_kb("VmHWM")
    print(
        json.dumps(
            {
                "elapsed": elapsed,
                "baseline_kb": baseline_kb,
                "first_batch_kb": first_batch_kb[0] if first_batch_kb else 0,
                "peak_kb": peak_kb,
                **result.as_dict(),
            }
        )
    )


def _status_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, in kB.

    Not getrusage's ru_maxrss: Linux carries it across fork+exec, so a child
    would report its parent's peak (here, the parent holding the seed data).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def service(url: str, env: dict[str, str]) -> dict[str, float]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_"))}
    full_env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="versatools.settings",
        LOG_LEVEL="WARNING",
        DB_CONN_MAX_AGE="0",
        DEBUG="false",  # as in production: no query log growing with the work
    )
    full_env.pop("REDIS_URL", None)
    full_env.update(env)
    done = subprocess.run(
        [PYTHON, __file__, "--child"], cwd=ROOT, env=full_env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"cleanup process failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["storage_failures"] or result["failed_keys"]:
        raise SystemExit(f"cleanup reported failures: {result}")
    return result


def remaining(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        runs = conn.execute("SELECT count(*) FROM history").fetchone()[0]
        objects = conn.execute("SELECT count(*) FROM storage_objects").fetchone()[0]
    return runs, objects


def files_left(root: Path) -> int:
    return sum(len(names) for _dirs, _sub, names in os.walk(root))


# --- Main ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="Expired-storage cleanup benchmark")
    parser.add_argument("--runs", type=int, default=100_000, help="expired runs per measurement")
    parser.add_argument("--memory-sizes", default="20000,200000", help="backlogs whose peak RSS is compared")
    parser.add_argument("--quick", action="store_true", help="10,000 runs; memory at 2,000 and 20,000")
    parser.add_argument("--repeat", type=int, default=3, help="filesystem attempts; the best of each is kept")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    # Run by bench/run.py, the command line is run.py's: use the defaults.
    own_command_line = Path(sys.argv[0]).resolve() == Path(__file__).resolve()
    args = parser.parse_args(sys.argv[1:] if own_command_line else [])
    if args.child:
        child()
        return
    runs = 10_000 if args.quick else args.runs
    sizes = [2_000, 20_000] if args.quick else [int(n) for n in args.memory_sizes.split(",")]

    url = bench_database_url(DATABASE)
    print(f"cleanup, {runs} expired runs with one file each, {USERS} users; database {DATABASE}")
    recreate_database(url)
    work = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    stack = contextlib.ExitStack()
    try:
        endpoint = stack.enter_context(s3_server(BUCKET))
        rows_objects = 3 * runs
        lines = []

        # Filesystem: raw and service alternately, best of --repeat each (the
        # machine may be shared; the best time is the least disturbed one).
        raw_times, svc_times = [], []
        for attempt in range(args.repeat):
            raw_root = work / f"raw-{attempt}"
            write_files(raw_root, seed(url, runs, provider="filesystem", bucket=""))
            raw_times.append(raw_filesystem(url, raw_root))
            assert remaining(url) == (0, 0) and files_left(raw_root) == 0
            svc_root = work / f"service-{attempt}"
            write_files(svc_root, seed(url, runs, provider="filesystem", bucket=""))
            svc_times.append(service(url, {"MEDIA_ROOT": str(svc_root)})["elapsed"])
            assert remaining(url) == (0, 0) and files_left(svc_root) == 0
        print(
            f"  filesystem seconds per attempt: raw {', '.join(f'{t:.2f}' for t in raw_times)};"
            f" service {', '.join(f'{t:.2f}' for t in svc_times)}"
        )
        lines.append(("filesystem", rows_objects / min(raw_times), rows_objects / min(svc_times), None, None))

        # S3 on the loopback server: raw, then the service.
        s3_seed(endpoint, seed(url, runs, provider="s3", bucket=BUCKET))
        raw_s3_seconds, raw_s3_requests = raw_s3(url, endpoint)
        assert remaining(url) == (0, 0)
        s3_seed(endpoint, seed(url, runs, provider="s3", bucket=BUCKET))
        before = s3_requests(endpoint)
        s3 = service(url, s3_env(endpoint))
        svc_requests = s3_requests(endpoint) - before
        assert remaining(url) == (0, 0)
        lines.append(
            (
                "s3",
                rows_objects / raw_s3_seconds,
                rows_objects / s3["elapsed"],
                raw_s3_requests * 1000 / runs,
                svc_requests * 1000 / runs,
            )
        )

        print(f"  {'':10} {'raw rows+obj/s':>15} {'service rows+obj/s':>19} {'ratio':>6} {'S3 req/1000 obj':>16}")
        for name, raw_rate, svc_rate, raw_req, svc_req in lines:
            requests = f"{svc_req:.2f} (raw {raw_req:.2f})" if svc_req is not None else "-"
            print(f"  {name:10} {raw_rate:15.0f} {svc_rate:19.0f} {svc_rate / raw_rate:6.2f} {requests:>16}")
        print("  aim: filesystem ratio >= 0.50; S3 <= 2 requests per 1,000 objects")

        # Memory: the same process for a small and a large backlog.
        print(f"  peak RSS of the cleanup process (filesystem), {USERS} users:")
        peaks = []
        for size in sizes:
            root = work / f"memory-{size}"
            write_files(root, seed(url, size, provider="filesystem", bucket=""))
            result = service(url, {"MEDIA_ROOT": str(root)})
            assert remaining(url) == (0, 0) and files_left(root) == 0
            shutil.rmtree(root)
            peaks.append(result["peak_kb"])
            print(
                f"    {size:>8} runs ({3 * size:>7} rows+objects): peak {result['peak_kb'] / 1024:6.1f} MB,"
                f" after start-up {result['baseline_kb'] / 1024:6.1f} MB,"
                f" after the first batch {result['first_batch_kb'] / 1024:6.1f} MB,"
                f" {3 * size / result['elapsed']:8.0f} rows+obj/s"
            )
        growth = (peaks[-1] - peaks[0]) / 1024
        print(f"    growth from {sizes[0]} to {sizes[-1]} runs: {growth:+.1f} MB (aim: flat)")
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
