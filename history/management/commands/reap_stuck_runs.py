"""Fail and refund runs stuck past the timeout. A dry run unless --yes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from history.services import runs_reap_stuck


class Command(BaseCommand):
    help = "Fail and refund runs stuck in PROCESSING (or PENDING) longer than the timeout."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--yes", action="store_true", help="Really fail them (default: only report).")
        parser.add_argument("--timeout-minutes", type=int, default=settings.STUCK_RUN_TIMEOUT_MINUTES)
        parser.add_argument("--limit", type=int, default=1000)

    def handle(self, *args: Any, yes: bool, timeout_minutes: int, limit: int, **options: Any) -> None:
        if timeout_minutes < 1 or limit < 1:
            raise CommandError("--timeout-minutes and --limit must be at least 1.")
        result = runs_reap_stuck(timeout=timedelta(minutes=timeout_minutes), dry_run=not yes, limit=limit)
        if yes:
            self.stdout.write(f"Stuck runs: {result.found} found, {result.failed} failed and refunded.")
        else:
            self.stdout.write(f"Stuck runs: {result.found} found (dry run: pass --yes to fail and refund them).")
