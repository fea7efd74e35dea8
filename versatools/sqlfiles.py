"""Access to the SQL kept in the top-level ``sql/`` folder.

Queries the ORM cannot say (upserts with conditional updates, several
counters in one round trip) live in ``sql/queries/<name>.sql`` and run with
named ``%(param)s`` placeholders.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils import timezone

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


@cache
def read_sql(name: str) -> str:
    """Text of ``sql/<name>.sql``; ``name`` is relative, without the suffix."""
    return (SQL_DIR / f"{name}.sql").read_text()


def run_query(name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Execute ``sql/queries/<name>.sql`` on the default connection; rows it returns, if any.

    On SQLite (the zero-setup development database) ``sql/queries/sqlite/<name>.sql``
    runs instead, one statement at a time; the rows are those of the last one.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            statements = [sql for sql in read_sql(f"queries/sqlite/{name}").split(";\n") if sql.strip()]
            sqlite_params = _sqlite_params(params)
            for sql in statements:
                cursor.execute(sql, sqlite_params)
        else:
            cursor.execute(read_sql(f"queries/{name}"), params)
        return cursor.fetchall() if cursor.description else []


def _sqlite_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as Django stores them in SQLite: UUIDs as hex, datetimes naive UTC, lists as JSON."""
    adapted: dict[str, Any] = {"now": connection.ops.adapt_datetimefield_value(timezone.now())}
    for key, value in params.items():
        if isinstance(value, uuid.UUID):
            value = value.hex
        elif isinstance(value, datetime):
            value = connection.ops.adapt_datetimefield_value(value)
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, list | tuple):
            value = json.dumps([item.hex if isinstance(item, uuid.UUID) else item for item in value])
        adapted[key] = value
    return adapted
