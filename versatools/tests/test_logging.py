"""Logs one can follow per run: every lifecycle line names its run, in both formats."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from history.services import run_complete, run_fail, run_mark_processing, run_start
from versatools.logformat import JSONFormatter, message_fields

ROOT = Path(__file__).resolve().parents[2]


def lifecycle_lines(caplog: pytest.LogCaptureFixture, user, *, fail: bool) -> tuple[str, list[logging.LogRecord]]:
    with caplog.at_level(logging.INFO, logger="history"):
        run = run_start(
            user_id=user.id, tool_id="pdf-merge", input_file_name="a.pdf", input_bytes=10, idempotency_key="log-1"
        ).run
        run_mark_processing(run_id=run.id)
        if fail:
            run_fail(run_id=run.id, error_message="broken PDF")
        else:
            run_complete(run_id=run.id, output_file_name="out.pdf", bytes_out=5, metadata={"pages": 2})
    return str(run.id), [record for record in caplog.records if record.name.startswith("history")]


@pytest.mark.django_db
@pytest.mark.parametrize("fail", [False, True], ids=["completed", "failed"])
def test_every_lifecycle_line_of_a_run_carries_its_run_id(caplog, user, fail: bool) -> None:
    run_id, records = lifecycle_lines(caplog, user, fail=fail)

    messages = [record.getMessage() for record in records]
    assert any(m.startswith("run started") for m in messages)
    assert any(m.startswith("run failed" if fail else "run completed") for m in messages)
    assert all(message_fields(m).get("run_id") == run_id for m in messages), messages


@pytest.mark.django_db
def test_json_lines_lift_the_run_id_into_a_field(caplog, user) -> None:
    run_id, records = lifecycle_lines(caplog, user, fail=False)

    lines = [json.loads(JSONFormatter().format(record)) for record in records]

    assert {line["run_id"] for line in lines} == {run_id}
    started = next(line for line in lines if line["message"].startswith("run started"))
    assert started["tool"] == "pdf-merge" and started["user_id"] == str(user.id)
    assert started["level"] == "INFO" and started["logger"] == "history.services"


def test_message_fields_reads_pairs_and_keeps_the_lines_own_fields() -> None:
    fields = message_fields('run failed run_id=abc tool=pdf-merge reason="not a PDF" level=fake, count=3;')

    assert fields == {"run_id": "abc", "tool": "pdf-merge", "reason": "not a PDF", "count": "3"}


def test_the_plain_format_is_key_value() -> None:
    fmt = settings.LOGGING["formatters"]["plain"]["format"]
    record = logging.LogRecord("history.services", logging.INFO, __file__, 1, "run started run_id=%s", ("r1",), None)

    line = logging.Formatter(fmt).format(record)

    assert " level=INFO logger=history.services pid=" in line
    assert line.endswith(" run started run_id=r1")


@pytest.mark.parametrize("log_format", ["plain", "json"])
@pytest.mark.slow
def test_log_format_selects_the_console_formatter(log_format: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DIRECT_URL", "REDIS_URL"}}
    env["LOG_FORMAT"] = log_format
    code = "import logging; logging.getLogger('history.services').info('run started run_id=%s tool=x', 'r-42')"

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if "r-42" in line)
    if log_format == "json":
        assert json.loads(line)["run_id"] == "r-42"
    else:
        assert "level=INFO logger=history.services" in line and line.endswith("run_id=r-42 tool=x")


@pytest.mark.slow
def test_an_unknown_log_format_stops_the_process() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DIRECT_URL", "REDIS_URL"}}
    env["LOG_FORMAT"] = "xml"

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode != 0
    assert "LOG_FORMAT must be one of plain, json" in result.stderr
