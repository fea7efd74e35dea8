"""Back the database up to BACKUP_STORAGE now and prune old copies (what the daily beat task does)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from versatools.backups import BackupFailed, backup_run


class Command(BaseCommand):
    help = "Dump the database (scripts/backup.sh) into BACKUP_STORAGE; prune copies past BACKUP_RETENTION_DAYS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_run()
        except (BackupFailed, ImproperlyConfigured) as error:
            raise CommandError(str(error)) from None
        if result.skipped:
            raise CommandError(f"Nothing backed up: {result.skipped}.")
        pruned = f"; pruned {', '.join(result.pruned)}" if result.pruned else ""
        self.stdout.write(f"Backed up to {result.name} ({result.size} bytes){pruned}.")
