"""Every writer against every other, in a seeded random order, from outside.

gunicorn serves the API, a real Celery worker on Redis runs the tools, files
live in a real S3 server (moto, over HTTP) that fails a share of writes and
deletes. Many runs are started by HTTP clients with bearer tokens; each run's
script fires, at the same moment, some of: a DELETE through the API, a
replay of its idempotency key (same or other content), a delete through the
Data API (as ``authenticated`` under RLS), polling. A third of the runs
take the direct path (reserve, send to S3, start with the upload ids),
with the owner deleting an upload while its start checks it, and the
signed target used again after the check; meanwhile the test
process reaps "stuck" runs with a timeout short enough to race the worker,
expires finished runs and reservations and runs cleanup passes.

Afterwards, with faults off: the worker shut down warmly, one cleanup pass
and a reconcile dry run. Then: no 500 was answered, money is exact
(balance = -sum(ledger), one charge per run, a refund exactly for the failed
ones), statistics and quota windows match the ledger, storage counters equal
the bytes of live rows, no blob without a row and no row without a blob.

Reproduce a failure with INTERLEAVINGS_SEED=<seed> (printed on failure).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import requests
from django.db.models import Sum
from django.utils import timezone

from billing.models import CreditBalance, CreditLedgerEntry, Plan, Subscription, UsageCounter
from billing.selectors import RUNS_METRIC, STORAGE_METRIC
from billing.services import credit_balance_open
from files.models import StorageDeletion, StorageObject
from files.reconcile import storage_reconcile
from files.tests.conftest import s3_server, s3_storage, wait_until  # noqa: F401
from files.tests.conftest import test_database_url as database_url
from history.expiry import expire_runs_and_files
from history.models import UNFINISHED_STATUSES, History, RunStatus
from history.services import runs_reap_stuck
from history.tests.stack import Stack, running_stack, token_for
from stats.models import ToolStatistics, UserStats
from stats.services import stats_tool_events_roll
from tools.tests.test_tools import pdf_bytes, png_bytes

# Gunicorn, Celery workers and a moto server racing: tens of seconds per seed.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SEEDS = [int(os.environ["INTERLEAVINGS_SEED"])] if os.environ.get("INTERLEAVINGS_SEED") else [11, 2026]
RUNS = 32
CLIENTS = 6
FAULT_RATE = 0.15


@pytest.fixture
def s3_stack(s3_storage) -> Iterator[Stack]:  # noqa: F811
    with running_stack(s3_storage.env, web_workers=2) as running:
        yield running


class Answers:
    """Every HTTP answer the clients got, by request kind and status."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, int]] = Counter()
        self.bad: list[str] = []

    def record(self, kind: str, response: requests.Response) -> None:
        with self.lock:
            self.counts[(kind, response.status_code)] += 1
            if response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                if not isinstance(body, dict) or "error" not in body:
                    self.bad.append(f"{kind} {response.status_code} without a JSON reason: {response.text[:200]}")
            if response.status_code == 500:
                self.bad.append(f"{kind} answered 500: {response.text[:200]}")


def data_api_delete(user_id: Any, run_id: str) -> None:
    """What PostgREST does for DELETE /rest/v1/history?id=eq.<id> with the user's token."""
    claims = json.dumps({"sub": str(user_id), "role": "authenticated"})
    with psycopg.connect(database_url()) as conn:
        conn.execute(
            "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)", [claims]
        )
        conn.execute("DELETE FROM history WHERE id = %s", [run_id])


@pytest.mark.parametrize("seed", SEEDS)
def test_deletes_workers_reapers_replays_and_cleanup_racing_leave_everything_exact(
    s3_stack,
    s3_storage,  # noqa: F811
    make_user,
    seed,
):
    rng = random.Random(seed)
    server = s3_storage.server
    plan = Plan.objects.create(key=f"race-{seed}", name="Race", credits=0, runs_per_window=10_000, usage_window="day")
    users = [make_user() for _ in range(3)]
    for person in users:
        Subscription.objects.create(user=person, plan=plan)
        credit_balance_open(user_id=person.id, credits=10_000)
    headers = {person.id: token_for(person) for person in users}
    answers = Answers()
    faults = {"on": True}
    fault_rng = random.Random(seed * 7)
    fault_lock = threading.Lock()

    def fault(method: str, path: str) -> bool:
        # Writes and deletes fail now and then; reads stay up so that a tool can read its input.
        if not faults["on"] or method not in ("PUT", "POST"):
            return False
        with fault_lock:
            return fault_rng.random() < FAULT_RATE

    server.hooks.fault = fault

    inputs = [
        ("image-compress", [("a.png", png_bytes(64, 48), "image/png")]),
        ("image-convert", [("b.png", png_bytes(32, 32), "image/png")]),
        ("pdf-compress", [("c.pdf", pdf_bytes(2), "application/pdf")]),
        ("pdf-merge", [("d.pdf", pdf_bytes(1), "application/pdf"), ("e.pdf", pdf_bytes(2), "application/pdf")]),
    ]

    def post(person, key: str, tool: str, files: list[tuple[str, bytes, str]]) -> requests.Response:
        response = requests.post(
            f"{s3_stack.base_url}/api/runs",
            data={"tool_id": tool},
            files=[("file", item) for item in files],
            headers={**headers[person.id], "Idempotency-Key": key},
            timeout=30,
        )
        answers.record("post", response)
        return response

    def reserve_and_send(person, tool: str, files: list[tuple[str, bytes, str]]) -> list[dict] | None:
        """Direct uploads: a reservation per file, the bytes straight to S3 (which fails now and then)."""
        reserved = []
        for name, body, kind in files:
            response = requests.post(
                f"{s3_stack.base_url}/api/uploads",
                json={"tool_id": tool, "file_name": name, "content_type": kind, "size": len(body)},
                headers=headers[person.id],
                timeout=30,
            )
            answers.record("reserve", response)
            if response.status_code != 201:
                return None
            target = response.json()["target"]
            requests.post(target["url"], data=target["fields"], files={"file": (name, body)}, timeout=30)
            reserved.append(response.json())
        return reserved

    def start_direct(person, key: str, tool: str, upload_ids: list[str]) -> requests.Response:
        response = requests.post(
            f"{s3_stack.base_url}/api/runs",
            data={"tool_id": tool, "upload_id": upload_ids},
            headers={**headers[person.id], "Idempotency-Key": key},
            timeout=30,
        )
        answers.record("post", response)
        return response

    def delete_file(person, object_id: str) -> None:
        answers.record(
            "delete-file",
            requests.delete(f"{s3_stack.base_url}/api/files/{object_id}", headers=headers[person.id], timeout=30),
        )

    def script(i: int) -> None:
        local = random.Random(seed * 1000 + i)
        person = users[i % len(users)]
        tool, files = inputs[local.randrange(len(inputs))]
        key = f"run-{seed}-{i}"
        # A third of the runs take the direct path: reserve, send to S3, start with the upload ids.
        direct = reserve_and_send(person, tool, files) if i % 3 == 2 else None
        upload_ids = [item["upload_id"] for item in direct or []]
        if direct is not None:
            racing = []
            if local.random() < 0.5:  # the owner cancels an upload while its start checks it
                racing.append(threading.Thread(target=delete_file, args=(person, local.choice(upload_ids))))
            for thread in racing:
                thread.start()
            created = start_direct(person, key, tool, upload_ids)
            for thread in racing:
                thread.join(timeout=60)
        elif i % 3 == 2:
            return
        else:
            created = post(person, key, tool, files)
        if created.status_code not in (200, 201):
            return
        run_id = created.json()["id"]
        other = [(name, body + b"\n%changed", kind) for name, body, kind in files] if tool.startswith("pdf") else None

        def rewrite() -> None:
            # The signed target is still valid: other bytes (HTML) under the checked key.
            for item in direct or []:
                target = item["target"]
                body = b"<html>" + b" " * (item["size"] - 6)
                requests.post(target["url"], data=target["fields"], files={"file": ("x", body)}, timeout=30)

        actions = {
            "delete": lambda: answers.record(
                "delete",
                requests.delete(f"{s3_stack.base_url}/api/history/{run_id}", headers=headers[person.id], timeout=30),
            ),
            "replay": lambda: start_direct(person, key, tool, upload_ids) if direct else post(person, key, tool, files),
            "replay-other-content": lambda: post(person, key, tool, other) if other else None,
            "delete-file": lambda: delete_file(person, local.choice(upload_ids)) if upload_ids else None,
            "rewrite-upload": rewrite,
            "data-api-delete": lambda: data_api_delete(person.id, run_id),
            "poll": lambda: answers.record(
                "get",
                requests.get(f"{s3_stack.base_url}/api/history/{run_id}", headers=headers[person.id], timeout=30),
            ),
        }
        chosen = local.sample(sorted(actions), k=local.randint(1, 3))
        time.sleep(local.uniform(0, 0.6))  # somewhere in the run's life: queued, processing, storing, done

        def fire(name: str) -> None:
            time.sleep(local.uniform(0, 0.05))
            actions[name]()

        threads = [threading.Thread(target=fire, args=(name,)) for name in chosen]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    trail: list[str] = []
    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            futures = [pool.submit(script, i) for i in range(RUNS)]
            while not all(future.done() for future in futures):
                move = rng.choice(["reap", "reap", "expire-and-clean", "clean", "expire-reservations", "rest"])
                trail.append(move)
                if move == "reap":
                    # Short enough to race the worker's own completion.
                    runs_reap_stuck(timeout=timedelta(seconds=rng.uniform(0.2, 2.0)), dry_run=False)
                elif move == "expire-and-clean":
                    finished = list(
                        History.objects.filter(status__in=[RunStatus.COMPLETED, RunStatus.FAILED]).values_list(
                            "id", flat=True
                        )
                    )
                    doomed = rng.sample(finished, k=len(finished) // 3)
                    History.objects.filter(id__in=doomed).update(expires_at=timezone.now() - timedelta(seconds=1))
                    expire_runs_and_files(batch_size=rng.randint(1, 8))
                elif move == "clean":
                    expire_runs_and_files(batch_size=rng.randint(1, 8))
                elif move == "expire-reservations":
                    # Reservations whose time ran out, started or not: a start racing this must fail or win whole.
                    waiting = list(StorageObject.objects.filter(awaiting_upload=True).values_list("id", flat=True))
                    doomed = rng.sample(waiting, k=len(waiting) // 2)
                    past = timezone.now() - timedelta(seconds=1)
                    StorageObject.objects.filter(id__in=doomed).update(expires_at=past, upload_writable_until=past)
                    expire_runs_and_files(batch_size=rng.randint(1, 8))
                time.sleep(rng.uniform(0.05, 0.3))
            for future in futures:
                future.result()

        # Let the worker finish what is queued; reap whatever it never got to.
        wait_until(
            lambda: not History.objects.filter(status__in=UNFINISHED_STATUSES).exists(),
            timeout=90,
            interval=0.2,
            message="runs stayed unfinished",
        )
        s3_stack.shut_down()
        faults["on"] = False
        # Time passes for the direct uploads: reservations never started (their start was refused)
        # expire unused, and the signed targets expire, so the keys' second deletes fall due.
        past = timezone.now() - timedelta(seconds=1)
        StorageObject.objects.filter(awaiting_upload=True).update(expires_at=past, upload_writable_until=past)
        StorageDeletion.objects.filter(not_before__isnull=False).update(not_before=past)
        expire_runs_and_files()
        report = storage_reconcile(repair=False, grace=timedelta(0))

        assert answers.bad == [], answers.bad
        assert "tool crashed" not in s3_stack.worker.output(), s3_stack.worker.output()[-3000:]
        # Storage: every blob has its row and every row its blob; nothing still owed.
        assert StorageDeletion.objects.count() == 0
        assert s3_storage.keys() == set(StorageObject.objects.values_list("key", flat=True))
        assert (report.orphans, report.rows_missing_object, report.counters_off) == (0, 0, 0), report
        stored = dict(StorageObject.objects.values("user_id").annotate(n=Sum("size")).values_list("user_id", "n"))
        storage_counted = dict(UsageCounter.objects.filter(metric=STORAGE_METRIC).values_list("user_id", "count"))
        assert {p.id: storage_counted.get(p.id, 0) for p in users} == {p.id: stored.get(p.id, 0) for p in users}

        # Money: the ledger is the truth, and every balance follows it.
        ledger = list(CreditLedgerEntry.objects.values_list("user_id", "run_id", "operation_type", "credits"))
        for person in users:
            balance = CreditBalance.objects.get(user=person).credits_remaining
            assert balance == -sum(c for u, _, _, c in ledger if u == person.id)
        charges = Counter(run for _, run, op, _ in ledger if op == "tool_run")
        refunds = Counter(run for _, run, op, _ in ledger if op == "refund")
        assert max(charges.values()) == 1 and (not refunds or max(refunds.values()) == 1)
        assert set(refunds) <= set(charges)
        for run_id, status in History.objects.values_list("id", "status"):
            assert status in (RunStatus.COMPLETED, RunStatus.FAILED)
            assert (run_id in refunds) == (status == RunStatus.FAILED), (run_id, status)
        # Statistics and quota windows count the same starts and failures as the ledger.
        stats_tool_events_roll()
        totals = ToolStatistics.objects.aggregate(runs=Sum("runs"), completed=Sum("completed"), failed=Sum("failed"))
        assert totals["runs"] == len(charges) == totals["completed"] + totals["failed"]
        assert totals["failed"] == len(refunds)
        assert UserStats.objects.aggregate(n=Sum("total_used"))["n"] == len(charges)
        runs_counted = defaultdict(int)
        for user_id, count in UsageCounter.objects.filter(metric=RUNS_METRIC).values_list("user_id", "count"):
            runs_counted[user_id] += count
        for person in users:
            mine = [r for u, r, op, _ in ledger if u == person.id and op == "tool_run"]
            assert runs_counted[person.id] == sum(1 for r in mine if r not in refunds)
        # The sequence really raced: deletes, replays, failures and completions all happened.
        assert answers.counts[("delete", 204)] and answers.counts[("post", 200)]
        assert answers.counts[("reserve", 201)] and any(kind == "delete-file" for kind, _ in answers.counts)
        assert not StorageObject.objects.filter(awaiting_upload=True).exists()
        assert totals["completed"] and totals["failed"]
    except BaseException:
        print(f"INTERLEAVINGS_SEED={seed}; main moves: {trail}; answers: {dict(answers.counts)}")
        raise
    finally:
        server.hooks.fault = None
