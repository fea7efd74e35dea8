"""Delete expired files and runs: the same service as the Celery beat task.

manage.py cleanup_storage                  # what would go (changes nothing)
manage.py cleanup_storage --yes            # delete it
manage.py cleanup_storage --yes --batch-size 500 --limit 20000
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from files.cleanup import CleanupResult
from files.selectors import storage_cleanup_preview
from history.expiry import expire_runs_and_files
from history.selectors import runs_expired_count


def positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


class Command(BaseCommand):
    help = "Delete expired files, runs and owed deletes from storage and the database (dry run unless --yes)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--yes", action="store_true", help="Delete; without it, only report what would go.")
        parser.add_argument("--batch-size", type=positive_int, help="Rows per transaction (CLEANUP_BATCH_SIZE).")
        parser.add_argument("--limit", type=positive_int, help="Stop after claiming this many rows.")

    def handle(self, *args: Any, yes: bool, batch_size: int | None, limit: int | None, **options: Any) -> None:
        if not yes:
            preview = storage_cleanup_preview(expired_runs=runs_expired_count(now=timezone.now()))
            self.stdout.write(f"Would delete {preview.summary()}. Nothing changed: pass --yes to delete.")
            return
        tty = self.stdout.isatty()
        started = time.monotonic()

        def progress(result: CleanupResult) -> None:
            rate = result.claimed / max(time.monotonic() - started, 1e-6)
            self.stdout.write(
                f"\r{result.claimed} row(s) claimed, {result.objects_deleted} object(s) deleted ({rate:.0f} rows/s)",
                ending="",
            )
            self.stdout.flush()

        result = expire_runs_and_files(batch_size=batch_size, limit=limit, on_batch=progress if tty else None)
        if tty and result.batches:
            self.stdout.write("")
        self.stdout.write(f"Cleanup in {time.monotonic() - started:.1f}s: {result.summary()}.")
        if result.storage_failures:
            raise CommandError("Storage failed; the rows it did not confirm stay for the next run.")
