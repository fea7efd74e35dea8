"""Create (or reset) the operator login for a local first run and print it."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import operator_ensure


class Command(BaseCommand):
    help = "Create or reset a superuser operator login and print its credentials."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", default="operator@versatools.local")
        parser.add_argument("--password", help="Defaults to a new random password.")

    def handle(self, *args: Any, email: str, password: str | None, **options: Any) -> None:
        password = password or secrets.token_urlsafe(12)
        operator_ensure(email=email, password=password)
        self.stdout.write(f"Operator login: {email} / {password}  (http://127.0.0.1:8000/admin/)")
