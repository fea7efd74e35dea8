"""Create the operator login for a local first run and print it; an existing one is kept."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import operator_ensure


class Command(BaseCommand):
    help = (
        "Create a superuser operator login and print its credentials. An existing operator keeps its password "
        "(make run calls this on every start); --reset-password or --password sets a new one."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", default="operator@versatools.local")
        parser.add_argument("--password", help="The password to set (implies --reset-password for an existing one).")
        parser.add_argument("--reset-password", action="store_true", help="Give an existing operator a new password.")
        parser.add_argument("--admin-url", default="http://127.0.0.1:8000/admin/", help="Printed with the login.")

    def handle(
        self, *args: Any, email: str, password: str | None, reset_password: bool, admin_url: str, **options: Any
    ) -> None:
        result = operator_ensure(
            email=email,
            password=password or secrets.token_urlsafe(12),
            reset_password=reset_password or password is not None,
        )
        if result.password_set:
            self.stdout.write(f"Operator login: {email} / {result.password}  ({admin_url})")
        else:
            self.stdout.write(
                f"Operator {email} exists; its password is unchanged ({admin_url}). "
                "A new one: manage.py create_operator --reset-password"
            )
