"""Fill the database with demo users, runs, files and consistent statistics."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import ServiceError
from demo.services import demo_seed


class Command(BaseCommand):
    help = "Create deterministic demo data (users on every plan, runs over 30 days, files, statistics)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=1, help="Same seed, same data.")
        parser.add_argument("--users", type=int, default=50)
        parser.add_argument("--runs", type=int, default=5000)
        parser.add_argument("--files", type=int, default=200, help="Most output files to write for recent runs.")
        parser.add_argument("--anchor", help="ISO time the data ends at (default: this hour). Fix it to compare runs.")
        parser.add_argument("--reset", action="store_true", help="Delete earlier demo data first.")

    def handle(self, *args: Any, **options: Any) -> None:
        anchor = None
        if options["anchor"]:
            try:
                anchor = datetime.fromisoformat(options["anchor"])
            except ValueError:
                raise CommandError(f"--anchor must be an ISO date-time, got {options['anchor']!r}.") from None
            if anchor.tzinfo is None:
                raise CommandError("--anchor needs a time zone, e.g. 2026-11-21T12:00:00+00:00.")
        interactive = sys.stdout.isatty()

        def progress(done: int, total: int) -> None:
            if interactive:
                self.stdout.write(f"\\r{done:,}/{total:,} runs", ending="")
                self.stdout.flush()

        try:
            result = demo_seed(
                seed=options["seed"],
                users=options["users"],
                runs=options["runs"],
                anchor=anchor,
                reset=options["reset"],
                max_files=options["files"],
                progress=progress,
            )
        except ServiceError as error:
            raise CommandError(error.message) from None
        if interactive:
            self.stdout.write("")
        self.stdout.write(f"Demo data: {result.users} users, {result.runs} runs, {result.files} files.")
