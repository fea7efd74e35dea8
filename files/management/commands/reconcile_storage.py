"""Compare storage with the storage_objects table; report, and with --yes repair.

manage.py reconcile_storage                   # report only
manage.py reconcile_storage --yes             # delete orphans, forget rows whose object is gone
manage.py reconcile_storage --grace-hours 1
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from files.reconcile import ReconcileResult, storage_reconcile


def non_negative_float(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


class Command(BaseCommand):
    help = (
        "List storage under the app's prefix and report objects without a row and rows without an object; "
        "with --yes, repair those older than the grace period."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--yes", action="store_true", help="Repair; without it, only report.")
        parser.add_argument(
            "--grace-hours",
            type=non_negative_float,
            default=None,
            help="Leave alone anything younger than this (RECONCILE_GRACE_HOURS).",
        )

    def handle(self, *args: Any, yes: bool, grace_hours: float | None, **options: Any) -> None:
        hours = settings.RECONCILE_GRACE_HOURS if grace_hours is None else grace_hours
        tty = self.stdout.isatty()

        def progress(result: ReconcileResult) -> None:
            self.stdout.write(
                f"\r{result.objects_listed} object(s) listed, {result.rows_checked} row(s) checked", ending=""
            )
            self.stdout.flush()

        result = storage_reconcile(repair=yes, grace=timedelta(hours=hours), on_page=progress if tty else None)
        if tty:
            self.stdout.write("")
        suffix = "" if yes else " Nothing changed: pass --yes to repair."
        self.stdout.write(f"{result.summary()}.{suffix}")
