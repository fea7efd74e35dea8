"""Create or refresh the view-only operator group (migrate also does it after every run)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import OPERATORS_VIEW_ONLY, operator_group_sync


class Command(BaseCommand):
    help = f"Create or refresh the {OPERATORS_VIEW_ONLY!r} group: every view permission, nothing else."

    def handle(self, *args: Any, **options: Any) -> None:
        count = operator_group_sync()
        self.stdout.write(f"{OPERATORS_VIEW_ONLY}: {count} view permission(s).")
