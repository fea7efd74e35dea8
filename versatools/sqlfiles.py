"""Access to the SQL kept in the top-level ``sql/`` folder.

Queries the ORM cannot say (upserts with conditional updates, several
counters in one round trip) live in ``sql/queries/<name>.sql`` and run with
named ``%(param)s`` placeholders.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.db import connection

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


@cache
def read_sql(name: str) -> str:
    """Text of ``sql/<name>.sql``; ``name`` is relative, without the suffix."""
    return (SQL_DIR / f"{name}.sql").read_text()


def run_query(name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Execute ``sql/queries/<name>.sql`` on the default connection; rows it returns, if any."""
    with connection.cursor() as cursor:
        cursor.execute(read_sql(f"queries/{name}"), params)
        return cursor.fetchall() if cursor.description else []
