"""What a client waits for: the request that starts a run, and the time until the run is COMPLETED.

Usage: python bench/bench_http.py [--requests 400 --clients 8 --runs 100]

A scratch database, gunicorn with the production settings of docker-compose.yml
(3 sync workers; DEBUG off), filesystem storage, Redis.

1. ``POST /api/runs`` with a 100 kB PNG (image-compress), ``--clients``
   concurrent clients each with its own user and bearer token, a new
   Idempotency-Key per request; no Celery worker, so only the request is
   measured (the runs wait, queued). Beside it, in the same gunicorn: a bare
   view that parses the same multipart body with Django's own parser and
   answers 201 (``bench/bare_upload_wsgi.py``, mounted at
   ``/bench/bare-upload`` for this benchmark only). Requests/s, p50 and p95
   for both, the two phases run back to back; aim >= 0.5 of the bare view's
   requests/s and p95 under 50 ms on an idle machine.
2. Drop to COMPLETED for image-compress through the API with a Celery worker
   (concurrency 1): ``POST /api/runs`` then ``GET /api/history/{id}`` every
   5 ms until COMPLETED, ``--runs`` runs one after another. Beside it, the
   tool's own processing time for the same file (``tools.images.compress``,
   called directly in this process). p50 and p95; aim: p95 within 150 ms of
   the tool's own.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    app_env,
    bearer,
    bench_database_url,
    bench_people,
    percentile,
    recreate_database,
    run_child,
    web_and_worker,
)

DATABASE = "versatools_bench_http"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
JWT_SECRET = "bench-http-secret-0123456789abcdef0123456789"


def setup_child(users: int) -> None:
    """In the scratch database: the catalog and ``users`` verified people on an unlimited plan; prints their ids."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("load_catalog", stdout=io.StringIO())
    print(json.dumps([str(person.id) for person in bench_people(users, prefix="bench-http")]))


def png_of(size: int) -> bytes:
    """A PNG of about ``size`` bytes: random pixels do not compress, so the size is what the pixels are."""
    import random

    from PIL import Image

    side = int((size / 3) ** 0.5)
    rng = random.Random(7)
    image = Image.frombytes("RGB", (side, side), bytes(rng.getrandbits(8) for _ in range(side * side * 3)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def concurrent_posts(base: str, path: str, user_ids: list[str], body: bytes, total: int) -> tuple[float, list[float]]:
    """``total`` multipart POSTs spread over one client per user; wall time and each request's latency."""
    import requests

    latencies: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def client(index: int) -> None:
        session = requests.Session()
        session.headers.update(bearer(user_ids[index], JWT_SECRET))
        mine = []
        for _ in range(index, total, len(user_ids)):
            started = time.perf_counter()
            response = session.post(
                f"{base}{path}",
                data={"tool_id": "image-compress"},
                files={"file": ("photo.png", body, "image/png")},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            mine.append(time.perf_counter() - started)
            if response.status_code != 201:
                failures.append(f"{path} answered {response.status_code}: {response.text[:200]}")
                return
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(user_ids))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(failures[0])
    return elapsed, latencies


def drop_to_completed(base: str, user_id: str, body: bytes, runs: int) -> list[float]:
    import requests

    session = requests.Session()
    session.headers.update(bearer(user_id, JWT_SECRET))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = session.post(
            f"{base}/api/runs",
            data={"tool_id": "image-compress"},
            files={"file": ("photo.png", body, "image/png")},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        if response.status_code != 201:
            raise SystemExit(f"POST /api/runs answered {response.status_code}: {response.text[:200]}")
        run_id = response.json()["id"]
        while True:
            status = session.get(f"{base}/api/history/{run_id}").json()["status"]
            if status == "COMPLETED":
                break
            if status == "FAILED":
                raise SystemExit("a run failed")
            time.sleep(0.005)
        times.append(time.perf_counter() - started)
    return times


def tool_alone(body: bytes, runs: int) -> list[float]:
    """image-compress's own processing of the same file, called directly: the floor of drop to COMPLETED."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "versatools.settings")
    import django

    django.setup()
    from tools.contract import ToolInput
    from tools.images import compress

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        compress([ToolInput(name="photo.png", content_type="image/png", size=len(body), file=io.BytesIO(body))])
        times.append(time.perf_counter() - started)
    return times


def line(name: str, values: list[float]) -> str:
    return (
        f"  {name:34} p50 {percentile(values, 0.5) * 1000:8.1f} ms  p95 {percentile(values, 0.95) * 1000:8.1f} ms"
        f"  mean {statistics.mean(values) * 1000:8.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--setup", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup_child(args.setup)
        return

    import redis

    url = bench_database_url(DATABASE)
    recreate_database(url)
    redis.Redis.from_url(REDIS_URL).flushdb()
    scratch = Path(tempfile.mkdtemp(prefix="bench-http-"))
    media, static = scratch / "media", scratch / "static"
    media.mkdir()
    env = app_env(url, media=media, static=static, redis_url=REDIS_URL, SUPABASE_JWT_SECRET=JWT_SECRET)
    run_child(env, "manage.py", "collectstatic", "--noinput", "-v0")
    user_ids = json.loads(run_child(env, __file__, "--setup", str(args.clients)))
    body = png_of(100 * 1024)
    log = scratch / "processes.log"
    try:
        print(f"POST /api/runs, {len(body) / 1024:.0f} kB PNG, {args.clients} clients, {args.requests} requests")
        with web_and_worker(env, log, web_workers=3, worker=False, wsgi="bench.bare_upload_wsgi:application") as base:
            warm = max(args.clients * 2, 16)
            concurrent_posts(base, "/bench/bare-upload", user_ids, body, warm)
            concurrent_posts(base, "/api/runs", user_ids, body, warm)
            bare_wall, bare = concurrent_posts(base, "/bench/bare-upload", user_ids, body, args.requests)
            api_wall, api = concurrent_posts(base, "/api/runs", user_ids, body, args.requests)
        bare_rate, api_rate = args.requests / bare_wall, args.requests / api_wall
        print(f"  bare multipart view: {bare_rate:7.1f} requests/s")
        print(line("bare multipart view", bare))
        print(f"  POST /api/runs:      {api_rate:7.1f} requests/s")
        print(line("POST /api/runs", api))
        print(f"  ratio: {api_rate / bare_rate:.2f} of the bare view's requests/s (aim >= 0.50)")

        redis.Redis.from_url(REDIS_URL).flushdb()  # the runs queued above are not part 2's
        print(f"drop to COMPLETED, image-compress, {args.runs} runs one after another, one Celery worker")
        with web_and_worker(env, log, web_workers=3) as base:
            drop_to_completed(base, user_ids[0], body, 5)  # warm-up
            completed = drop_to_completed(base, user_ids[0], body, args.runs)
        alone = tool_alone(body, args.runs)
        print(line("API: POST to COMPLETED", completed))
        print(line("the tool alone (same file)", alone))
        added = percentile(completed, 0.95) - percentile(alone, 0.95)
        print(f"  the path adds {added * 1000:.0f} ms at p95 (aim: within 150 ms)")
        print(
            json.dumps(
                {
                    "post_runs_per_s": round(api_rate, 1),
                    "bare_per_s": round(bare_rate, 1),
                    "post_p50_ms": round(percentile(api, 0.5) * 1000, 1),
                    "post_p95_ms": round(percentile(api, 0.95) * 1000, 1),
                    "bare_p95_ms": round(percentile(bare, 0.95) * 1000, 1),
                    "completed_p50_ms": round(percentile(completed, 0.5) * 1000, 1),
                    "completed_p95_ms": round(percentile(completed, 0.95) * 1000, 1),
                    "tool_p95_ms": round(percentile(alone, 0.95) * 1000, 1),
                }
            )
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
