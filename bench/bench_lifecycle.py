"""Runs per second of the full run lifecycle, Django services beside raw psycopg.

Each run: start (tool price and plan limits in one read, history INSERT, conditional credit
charge, ledger entry, quota window check-and-increment, statistics), mark
PROCESSING, complete (conditional UPDATE plus statistics). 8 processes with
their own connections work at once on PostgreSQL; the raw reference performs
the same SQL effects with psycopg in the same number of transactions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/versatools python bench/bench_lifecycle.py [--runs 400]

``--app-url`` runs the measured processes through another URL of the same
database (e.g. through pgbouncer with ?pgbouncer=true).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, ROOT, bench_database_url, recreate_database  # noqa: E402

TOOLS = ["pdf-merge", "pdf-compress", "image-compress", "image-convert"]
ONE_TOOL = "image-compress"
PGBENCH_SECONDS = 15
USERS_PER_PROCESS = 16


def setup_users(url: str, processes: int) -> list[list[str]]:
    os.environ["DATABASE_URL"] = url
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "versatools.settings")
    django.setup()
    from accounts.models import User
    from billing.models import Plan
    from billing.services import credits_adjust
    from billing.subscriptions import subscription_change

    Plan.objects.update_or_create(
        key="bench", defaults={"name": "Bench", "credits": 0, "runs_per_window": 10**9, "usage_window": "month"}
    )
    groups = []
    for p in range(processes):
        ids = []
        for u in range(USERS_PER_PROCESS):
            user = User.objects.create_user(email=f"bench-{uuid.uuid4().hex[:10]}-{p}-{u}@example.com")
            # A grant, not credit_balance_open: with a catalog loaded the user
            # was already opened with the default plan's credits.
            credits_adjust(user_id=user.id, delta=10**8, reason="bench")
            subscription_change(user_id=user.id, plan_key="bench", status="active", event_type="bench")
            ids.append(str(user.id))
        groups.append(ids)
    return groups


def worker_django(url: str, user_ids: list[str], runs: int, tag: str, tools: list[str]) -> dict[str, int]:
    os.environ["DATABASE_URL"] = url
    # As in production: DEBUG on would log and time every query.
    os.environ["DEBUG"] = "false"
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "versatools.settings")
    django.setup()
    import logging

    from django.db import connection

    from history.services import run_complete, run_mark_processing, run_start

    logging.disable(logging.INFO)
    statements = transactions = 0

    def count(execute, sql, params, many, context):
        # A statement outside an atomic block is a transaction of its own.
        nonlocal statements, transactions
        statements += 1
        transactions += not connection.in_atomic_block
        return execute(sql, params, many, context)

    commit = connection.commit

    def counted_commit() -> None:
        nonlocal transactions
        transactions += 1
        commit()

    connection.commit = counted_commit

    connection.ensure_connection()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    with connection.execute_wrapper(count):
        for i in range(runs):
            user_id = uuid.UUID(user_ids[i % len(user_ids)])
            run = run_start(
                user_id=user_id,
                tool_id=tools[i % len(tools)],
                input_file_name="in.bin",
                input_bytes=1000 + i,
                idempotency_key=f"{tag}-{i}",
            ).run
            run_mark_processing(run_id=run.id)
            run_complete(run_id=run.id, output_file_name="out.bin", bytes_out=500 + i, metadata={"ratio": 0.5})
    return {"statements": statements, "transactions": transactions}


def worker_raw(url: str, user_ids: list[str], runs: int, tag: str, tools: list[str]) -> dict[str, int]:
    """The same SQL effects, hand-written with psycopg: the reference."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    import psycopg
    from psycopg.types.json import Jsonb

    from core.sqlfiles import read_sql  # the same files, includes resolved; no Django needed

    record_start = read_sql("queries/stats_record_start")
    record_finish = read_sql("queries/stats_record_finish")
    consume = read_sql("queries/usage_counter_consume")
    start_context = read_sql("queries/run_start_context")
    charge = read_sql("queries/credits_charge")
    costs = {"pdf-merge": 2, "pdf-compress": 1, "image-compress": 1, "image-convert": 1}
    names = {
        "pdf-merge": "PDF Merger",
        "pdf-compress": "PDF Compressor",
        "image-compress": "Image Compressor",
        "image-convert": "Image Converter",
    }
    statements = transactions = 0
    conn = psycopg.connect(url.replace("?pgbouncer=true", ""), prepare_threshold=None)

    def execute(sql: str, params=None):
        nonlocal statements
        statements += 1
        return conn.execute(sql, params)

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    for i in range(runs):
        user_id = uuid.UUID(user_ids[i % len(user_ids)])
        tool_id = tools[i % len(tools)]
        now = datetime.now(UTC)
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        run_id = uuid.uuid4()
        size = 1000 + i
        transactions += 3  # the three `with conn.transaction()` blocks below
        with conn.transaction():
            context = execute(start_context, {"user_id": user_id, "tool_id": tool_id, "now": now}).fetchone()
            plan = (context[4], context[8])  # runs_per_window, retention_hours
            execute(
                "INSERT INTO history (id, user_id, tool_id, tool_name, status, input_file_name, output_file_name,"
                " file_key, metadata, error_message, bytes_in, bytes_out, credits_charged, idempotency_key,"
                " request_fingerprint, expires_at, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, 'PENDING', 'in.bin', '', '', '{}', '', %s, 0, %s, %s, %s, %s, %s, %s)",
                [
                    run_id,
                    user_id,
                    tool_id,
                    names[tool_id],
                    size,
                    costs[tool_id],
                    f"{tag}-{i}",
                    hashlib.sha256(str(size).encode()).hexdigest(),
                    now + timedelta(hours=plan[1]),
                    now,
                    now,
                ],
            )
            # The balance and its ledger entry in one statement, as credits_charge does.
            charged = execute(
                charge,
                {
                    "user_id": user_id,
                    "credits": costs[tool_id],
                    "details": json.dumps({"tool_id": tool_id}),
                    "run_id": run_id,
                    "idempotency_key": f"charge:{run_id}",
                },
            ).fetchone()
            assert charged == (1, 1)
            params = {
                "user_id": user_id,
                "metric": "runs",
                "amount": 1,
                "limit": plan[0],
                "window_start": month,
                "window_end": month + timedelta(days=31),
            }
            assert execute(consume, params).fetchone()
            execute(
                record_start, {"user_id": user_id, "tool_id": tool_id, "bytes_in": size, "at": now, "day": now.date()}
            )
        with conn.transaction():
            execute(
                "UPDATE history SET status = 'PROCESSING', started_at = now(), updated_at = now()"
                " WHERE id = %s AND status = 'PENDING'",
                [run_id],
            )
        with conn.transaction():
            execute(
                "UPDATE history SET status = 'COMPLETED', finished_at = now(), output_file_name = 'out.bin',"
                " bytes_out = %s, metadata = metadata || %s, updated_at = now()"
                " WHERE id = %s AND status = 'PROCESSING' RETURNING user_id, tool_id",
                [500 + i, Jsonb({"ratio": 0.5}), run_id],
            ).fetchone()
            execute(
                record_finish,
                {
                    "user_id": user_id,
                    "tool_id": tool_id,
                    "completed": 1,
                    "failed": 0,
                    "bytes_out": 500 + i,
                    "day": now.date(),
                },
            )
    conn.close()
    return {"statements": statements, "transactions": transactions}


def measure(
    mode: str, url: str, app_url: str, groups: list[list[str]], runs: int, tools: list[str] = TOOLS
) -> dict[str, float]:
    tag = f"{mode}-{uuid.uuid4().hex[:8]}"
    procs = []
    for index, ids in enumerate(groups):
        procs.append(
            subprocess.Popen(
                [
                    PYTHON,
                    __file__,
                    "--worker",
                    mode,
                    "--app-url",
                    app_url,
                    "--runs",
                    str(runs),
                    "--users",
                    ",".join(ids),
                    "--tag",
                    f"{tag}-{index}",
                    "--tools",
                    ",".join(tools),
                ],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [json.loads(proc.communicate()[0].strip().splitlines()[-1]) for proc in procs]
    elapsed = time.perf_counter() - started
    if any(proc.returncode for proc in procs):
        raise SystemExit(f"a {mode} worker failed")
    total = runs * len(groups)
    return {
        "runs_per_second": total / elapsed,
        "statements_per_run": sum(r["statements"] for r in results) / total,
        "transactions_per_run": sum(r["transactions"] for r in results) / total,
    }


def pgbench_tps(url: str, *, clients: int) -> float:
    """The database server's own ceiling: ``pgbench -N`` (simple updates, no branch-row hot spot), same server.

    Run on a scratch database of its own (scale 8), ``clients`` connections,
    PGBENCH_SECONDS seconds, on 2 threads; what it prints as tps.
    """
    import re
    import shutil

    import psycopg

    from bench.common import admin_dsn

    pgbench = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    name = "versatools_bench_pgbench"
    with psycopg.connect(admin_dsn(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    target = url.rsplit("/", 1)[0] + f"/{name}"
    subprocess.run([pgbench, "-i", "-q", "-s", "8", target], check=True, capture_output=True)
    done = subprocess.run(
        [pgbench, "-N", "-n", "-c", str(clients), "-j", "2", "-T", str(PGBENCH_SECONDS), target],
        check=True,
        capture_output=True,
        text=True,
    )
    found = re.search(r"tps = ([0-9.]+)", done.stdout)
    if not found:
        raise SystemExit(f"pgbench printed no tps:\n{done.stdout}{done.stderr}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=400, help="runs per process")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--app-url", default="", help="URL the measured processes use (default: the bench database)")
    parser.add_argument("--worker", choices=["django", "raw"])
    parser.add_argument("--users", default="")
    parser.add_argument("--tag", default="")
    parser.add_argument("--tools", default=",".join(TOOLS), help=argparse.SUPPRESS)
    parser.add_argument("--no-ceiling", action="store_true", help="skip the pgbench ceiling and the one-tool run")
    parser.add_argument("--keep-database", action="store_true", help="reuse the bench database as it is")
    args = parser.parse_args()

    url = bench_database_url("versatools_bench_lifecycle")
    if args.worker:
        worker = worker_django if args.worker == "django" else worker_raw
        result = worker(args.app_url or url, args.users.split(","), args.runs, args.tag, args.tools.split(","))
        print(json.dumps(result))
        return

    if not args.keep_database:
        recreate_database(url)
    groups = setup_users(url, args.processes)
    app_url = args.app_url or url
    # Warm-up: fill caches and create the shared counter rows once for both sides.
    measure("raw", url, app_url, groups, 20)
    measure("django", url, app_url, groups, 20)
    raw = measure("raw", url, app_url, groups, args.runs)
    dj = measure("django", url, app_url, groups, args.runs)
    rows = [("raw", raw), ("django", dj)]
    if not args.no_ceiling:
        # Every run on one tool: its counters are what every run would queue on, if a run locked them.
        rows.append(("django, one tool", measure("django", url, app_url, groups, args.runs, tools=[ONE_TOOL])))
    print(f"lifecycle, {args.processes} processes x {args.runs} runs, via {app_url.split('@')[-1]}")
    print(f"  {'':16} {'runs/s':>9} {'statements/run':>15} {'transactions/run':>17}")
    for name, r in rows:
        rate, statements, transactions = r["runs_per_second"], r["statements_per_run"], r["transactions_per_run"]
        print(f"  {name:16} {rate:9.1f} {statements:15.2f} {transactions:17.2f}")
    print(f"  ratio django/raw: {dj['runs_per_second'] / raw['runs_per_second']:.2f} (aim >= 0.70 at 8, 0.85 at 2)")
    if not args.no_ceiling:
        one = rows[2][1]["runs_per_second"]
        print(f"  one tool / four tools: {one / dj['runs_per_second']:.2f} (aim >= 0.80)")
        tps = pgbench_tps(url, clients=8)
        ceiling = tps / 3  # a run is three transactions
        print(
            f"  pgbench -N, 8 clients, same server: {tps:.0f} transactions/s = {ceiling:.0f} three-transaction runs/s"
        )
        print(f"  django share of that ceiling: {dj['runs_per_second'] / ceiling:.2f} (aim >= 0.50)")
        print(f"  raw share of that ceiling:    {raw['runs_per_second'] / ceiling:.2f}")


if __name__ == "__main__":
    main()
