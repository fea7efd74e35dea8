"""Insert the catalog (plans, tool costs) where it is missing; never overwrite an edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.services import catalog_load


class Command(BaseCommand):
    help = (
        "Insert the fixture rows (default: fixtures/*.json) that do not exist yet and leave existing ones as "
        "operators edited them. Unlike loaddata, safe to run on every start."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("paths", nargs="*", help="Fixture files (default: fixtures/*.json).")

    def handle(self, *args: Any, paths: list[str], **options: Any) -> None:
        files = [Path(p) for p in paths] or sorted((Path(settings.BASE_DIR) / "fixtures").glob("*.json"))
        missing = [str(path) for path in files if not path.is_file()]
        if missing:
            raise CommandError(f"No such fixture file: {', '.join(missing)}")
        result = catalog_load(paths=files)
        self.stdout.write(
            f"Catalog: {result.inserted} row(s) inserted, {result.kept} already there and kept; "
            f"{result.accounts_opened} earlier user(s) started on the default plan."
        )
