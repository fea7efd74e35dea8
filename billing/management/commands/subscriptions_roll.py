"""Move due subscriptions on (what the hourly beat task does): ``--dry-run`` lists the moves."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from billing.subscriptions import subscriptions_roll


class Command(BaseCommand):
    help = "End trials, renew or lapse ended periods, expire past_due beyond the grace (--dry-run: list only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list what would move; change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        result = subscriptions_roll(dry_run=options["dry_run"])
        if options["dry_run"]:
            for move in result.due:
                self.stdout.write(f"{move['user_id']}: {move['from']} -> {move['to']} ({move['event']})")
            self.stdout.write(f"{len(result.due)} move(s) due; nothing changed (--dry-run).")
            return
        self.stdout.write(result.summary())
