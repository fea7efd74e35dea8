"""The whole product path with real processes: gunicorn, a Celery worker, Redis, PostgreSQL, files.

Upload through POST /api/runs on a gunicorn web process, the worker process
picks the run up from Redis and runs the tool, the dashboard shows it, the
download works, and after expiry the cleanup task removes it all.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from pypdf import PdfReader

from billing.models import UsageCounter
from billing.selectors import STORAGE_METRIC
from billing.services import credit_balance_open
from files.models import StorageObject
from files.tests.conftest import ROOT, fs_storage, s3_server, s3_storage, wait_until  # noqa: F401
from history.models import History
from history.tests.stack import Stack, running_stack, token_for
from stats.selectors import tool_statistics_for
from tools.tests.test_tools import pdf_bytes

# Through a real gunicorn and Celery worker.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def stack(fs_storage) -> Iterator[Stack]:  # noqa: F811
    with running_stack(fs_storage.env) as running:
        yield running


def storage_used(user) -> int:
    counter = UsageCounter.objects.filter(user=user, metric=STORAGE_METRIC).first()
    return counter.count if counter else 0


def queue_cleanup(stack: Stack) -> None:
    """Queue the expiry pass from another process, as beat would; the stack's worker runs it."""
    queued = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from history.tasks import cleanup_expired; cleanup_expired.delay()",
        ],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert queued.returncode == 0, queued.stderr


def wait_for_status(stack: Stack, headers: dict[str, str], run_id: str, wanted: set[str]) -> dict:
    latest: dict = {}

    def finished() -> bool:
        nonlocal latest
        latest = requests.get(f"{stack.base_url}/api/history/{run_id}", headers=headers, timeout=5).json()
        return latest.get("status") in wanted

    wait_until(finished, timeout=60, interval=0.2, message=f"run stayed {latest}:\n{stack.worker.output()[-3000:]}")
    return latest


def test_upload_process_show_download_expire(stack: Stack, user, fs_storage) -> None:  # noqa: F811
    credit_balance_open(user_id=user.id, credits=10)
    headers = token_for(user)
    files = [("file", ("a.pdf", pdf_bytes(2), "application/pdf")), ("file", ("b.pdf", pdf_bytes(1), "application/pdf"))]

    created = requests.post(
        f"{stack.base_url}/api/runs",
        data={"tool_id": "pdf-merge"},
        files=files,
        headers={**headers, "Idempotency-Key": "e2e-1"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    assert created.json()["status"] == "PENDING"

    run = wait_for_status(stack, headers, run_id, {"COMPLETED", "FAILED"})
    assert run["status"] == "COMPLETED", run
    assert run["metadata"]["pages"] == 3

    dashboard = requests.get(f"{stack.base_url}/api/dashboard", headers=headers, timeout=5).json()
    assert dashboard["recent_runs"][0]["id"] == run_id
    assert dashboard["totals"]["by_tool"] == {"pdf-merge": 1}
    assert dashboard["credits_remaining"] == 8

    download = requests.get(f"{stack.base_url}/api/runs/{run_id}/download", headers=headers, timeout=5)
    assert download.status_code == 200
    assert len(PdfReader(io.BytesIO(download.content)).pages) == 3

    past = timezone.now() - timedelta(minutes=1)
    History.objects.filter(id=run_id).update(expires_at=past)
    StorageObject.objects.filter(run_id=run_id).update(expires_at=past)
    queue_cleanup(stack)
    wait_until(
        lambda: not History.objects.filter(id=run_id).exists(),
        timeout=60,
        interval=0.2,
        message="cleanup did not remove the run",
    )
    assert StorageObject.objects.filter(user=user).count() == 0
    assert [path for path in fs_storage.root.rglob("*") if path.is_file()] == []
    assert requests.get(f"{stack.base_url}/api/runs/{run_id}/download", headers=headers, timeout=5).status_code == 404
    assert tool_statistics_for(tool_id="pdf-merge")["completed"] == 1  # statistics outlive the run


def test_a_hostile_input_fails_its_run_and_the_worker_carries_on(stack: Stack, user) -> None:
    credit_balance_open(user_id=user.id, credits=10)
    headers = token_for(user)

    def post(key: str, content: bytes) -> str:
        response = requests.post(
            f"{stack.base_url}/api/runs",
            data={"tool_id": "pdf-compress"},
            files=[("file", ("doc.pdf", content, "application/pdf"))],
            headers={**headers, "Idempotency-Key": key},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    broken = post("bad", b"%PDF-1.4\n" + b"\xff" * 4000)
    good = post("good", pdf_bytes(2))

    assert wait_for_status(stack, headers, broken, {"COMPLETED", "FAILED"})["status"] == "FAILED"
    assert wait_for_status(stack, headers, good, {"COMPLETED", "FAILED"})["status"] == "COMPLETED"
    assert stack.worker.proc.poll() is None
    assert requests.get(f"{stack.base_url}/api/dashboard", headers=headers, timeout=5).json()["credits_remaining"] == 9


def test_direct_upload_to_s3_process_download_expire(user, s3_storage) -> None:  # noqa: F811
    """Reserve, send the bytes straight to the bucket, start, a real worker processes, download, expire, clean up."""
    credit_balance_open(user_id=user.id, credits=10)
    headers = token_for(user)
    with running_stack(s3_storage.env) as stack:
        upload_ids = []
        for name, pdf in (("a.pdf", pdf_bytes(2)), ("b.pdf", pdf_bytes(1))):
            reserved = requests.post(
                f"{stack.base_url}/api/uploads",
                json={"tool_id": "pdf-merge", "file_name": name, "content_type": "application/pdf", "size": len(pdf)},
                headers=headers,
                timeout=10,
            )
            assert reserved.status_code == 201, reserved.text
            target = reserved.json()["target"]
            sent = requests.post(target["url"], data=target["fields"], files={"file": (name, pdf)}, timeout=10)
            assert sent.status_code in (200, 204), sent.text
            upload_ids.append(reserved.json()["upload_id"])

        started = requests.post(
            f"{stack.base_url}/api/runs",
            data={"tool_id": "pdf-merge", "upload_id": upload_ids},
            headers={**headers, "Idempotency-Key": "direct-e2e"},
            timeout=10,
        )
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        run = wait_for_status(stack, headers, run_id, {"COMPLETED", "FAILED"})
        assert run["status"] == "COMPLETED", run
        assert run["metadata"]["pages"] == 3

        download = requests.get(
            f"{stack.base_url}/api/runs/{run_id}/download", headers=headers, timeout=5, allow_redirects=False
        )
        assert download.status_code == 302
        merged = requests.get(download.headers["Location"], timeout=10)
        assert len(PdfReader(io.BytesIO(merged.content)).pages) == 3
        assert len(s3_storage.keys()) == 3  # two inputs, one output

        past = timezone.now() - timedelta(minutes=1)
        History.objects.filter(id=run_id).update(expires_at=past)
        StorageObject.objects.filter(run_id=run_id).update(expires_at=past)
        queue_cleanup(stack)
        wait_until(
            lambda: not History.objects.filter(id=run_id).exists() and not s3_storage.keys(),
            timeout=60,
            interval=0.2,
            message="cleanup did not remove the run and its objects",
        )
    assert StorageObject.objects.filter(user=user).count() == 0
    assert storage_used(user) == 0
