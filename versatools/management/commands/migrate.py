"""`migrate` that connects through DIRECT_URL when it is set.

Behind Supabase's pooler (DATABASE_URL with ?pgbouncer=true) DDL, advisory
locks and long transactions belong on a direct session connection, as with
Prisma's ``directUrl``. The app keeps using DATABASE_URL.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS, connections


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        direct = getattr(settings, "DIRECT_DATABASE", None)
        if direct and options["database"] == DEFAULT_DB_ALIAS:
            connection = connections[DEFAULT_DB_ALIAS]
            connection.close()
            connection.settings_dict.update(direct)
            if options["verbosity"] >= 1:
                self.stdout.write(f"Migrating through DIRECT_URL ({direct['HOST']}:{direct['PORT']}/{direct['NAME']}).")
        super().handle(*args, **options)
