"""Restore the newest backup of BACKUP_STORAGE into a new, empty database (scripts/restore.sh)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from versatools.backups import BackupFailed, backup_restore_latest


class Command(BaseCommand):
    help = "Restore the newest backup into DATABASE_URL, which must be a new, empty PostgreSQL database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("database_url", help="postgres://... of an empty database (createdb first)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            name = backup_restore_latest(database_url=options["database_url"])
        except (BackupFailed, ImproperlyConfigured) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Restored {name}.")
