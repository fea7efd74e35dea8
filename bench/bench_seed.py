"""Seeding a million history rows: seed_demo beside a raw COPY of the same rows.

seed_demo (demo.services.demo_seed, 1,000 users, no files) is timed end to
end: users and subscriptions, the runs generated in PostgreSQL, and the
ledger, balances, statistics and quota windows derived from them. Its rows
are then exported with ``COPY history TO STDOUT`` (binary, to a temporary
file), the table is truncated, and ``COPY history FROM STDIN`` loads the same
rows into the same table, with the same indexes, constraints and triggers,
in one transaction. Rows per second of each, and their ratio (aim: >= 0.5).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/versatools python bench/bench_seed.py [--runs 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_database_url, recreate_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()

    url = bench_database_url("versatools_bench_seed")
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "false"
    os.environ["SLOW_QUERY_MS"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "versatools.settings")
    import django

    django.setup()
    import logging

    import psycopg
    from django.db import connection

    from demo.services import RUNS_PER_STATEMENT, demo_seed

    logging.disable(logging.INFO)
    phases: list[float] = []
    started = time.perf_counter()
    demo_seed(
        users=args.users, runs=args.runs, max_files=0, progress=lambda done, total: phases.append(time.perf_counter())
    )
    seed_seconds = time.perf_counter() - started
    connection.close()

    with psycopg.connect(url, autocommit=True) as conn:
        count = conn.execute("SELECT count(*) FROM history").fetchone()[0]
        assert count == args.runs, count
        indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'history'").fetchone()[0]
        with tempfile.TemporaryFile() as dump:
            with conn.cursor().copy("COPY history TO STDOUT (FORMAT binary)") as copy:
                for block in copy:
                    dump.write(block)
            size = dump.tell()
            conn.execute("TRUNCATE history CASCADE")
            conn.execute("CHECKPOINT")
            dump.seek(0)
            started = time.perf_counter()
            with conn.transaction(), conn.cursor().copy("COPY history FROM STDIN (FORMAT binary)") as copy:
                while block := dump.read(1 << 20):
                    copy.write(block)
            copy_seconds = time.perf_counter() - started
        assert conn.execute("SELECT count(*) FROM history").fetchone()[0] == args.runs

    seed_rate, copy_rate = args.runs / seed_seconds, args.runs / copy_seconds
    print(f"history rows: {args.runs:,} for {args.users:,} users; {indexes} indexes on history; {size / 1e6:.0f} MB")
    label = f"seed_demo (end to end, {RUNS_PER_STATEMENT:,} runs per statement):"
    print(f"  {label:52} {seed_seconds:7.1f} s  {seed_rate:10,.0f} rows/s")
    if len(phases) > 1:
        # Progress is reported after each batch: batches 2..n alone, without the fixed costs.
        batch_rate = (len(phases) - 1) * RUNS_PER_STATEMENT / (phases[-1] - phases[0])
        print(f"  {'  the run batches alone (INSERT ... SELECT):':52} {'':9}  {batch_rate:10,.0f} rows/s")
    print(
        f"  {'COPY history FROM STDIN (binary, one transaction):':52} {copy_seconds:7.1f} s  {copy_rate:10,.0f} rows/s"
    )
    print(f"  seed_demo / COPY: {seed_rate / copy_rate:.2f} (aim >= 0.50)")


if __name__ == "__main__":
    main()
