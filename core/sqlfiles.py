"""Access to the SQL kept in the top-level ``sql/`` folder.

Queries the ORM cannot say (upserts with conditional updates, several
counters in one round trip) live in ``sql/queries/<name>.sql`` and run with
named ``%(param)s`` placeholders. A line ``-- @include <name>`` is replaced by
the text of ``sql/<name>.sql``: a rule written once (the effective plan) can
serve several statements of both dialects.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import sqlparse
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.utils import timezone
from psycopg.rows import dict_row

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


_INCLUDE = re.compile(r"^[ \t]*-- @include (\S+)[ \t]*$", re.MULTILINE)

Row = dict[str, Any]


@cache
def read_sql(name: str) -> str:
    """Text of ``sql/<name>.sql`` with its includes; ``name`` is relative, without the suffix."""
    text = (SQL_DIR / f"{name}.sql").read_text()
    return _INCLUDE.sub(lambda match: read_sql(match.group(1)).rstrip().rstrip(";"), text)


def run_query(name: str, params: dict[str, Any]) -> list[Row]:
    """Execute ``sql/queries/<name>.sql`` on the default connection; the rows it returns, by column name.

    Rows are read by name, never by position, so a column moved in a file (or
    a twin that orders them differently) cannot be misread: each file names
    its result columns. On SQLite (the zero-setup development database)
    ``sql/queries/sqlite/<name>.sql`` runs instead, one statement at a time;
    the rows are those of the last one that returns columns.
    """
    db = connections[DEFAULT_DB_ALIAS]  # once: each attribute of the `connection` proxy is a lookup
    if db.vendor != "sqlite":
        return _run_postgresql(db, read_sql(f"queries/{name}"), params)
    with db.cursor() as cursor:
        sqlite_params = _sqlite_params(params)
        rows: list[Row] = []
        for sql in _statements(f"queries/sqlite/{name}"):
            cursor.execute(sql, sqlite_params)
            returned = _rows(cursor)
            if returned is not None:
                rows = returned
        return rows


def _run_postgresql(db: BaseDatabaseWrapper, sql: str, params: dict[str, Any]) -> list[Row]:
    """One of our statements on PostgreSQL, with server-side parameter binding, its rows as dicts.

    Django's own cursors bind parameters on the client (psycopg's ClientCursor:
    every value quoted into the SQL text, the text re-parsed), which costs about
    100 us of client CPU per statement more than sending the values apart; on
    the run lifecycle's 8 statements that was the largest share of the
    difference to raw psycopg (README "Benchmarks"). Our SQL files are single
    statements with typed or inferable parameters, which is what server-side
    binding needs; the ORM keeps Django's default. The cursor is still
    Django's wrapper, so execute wrappers (the slow-query log, statement
    counts in tests), error translation and the query log see these queries.
    psycopg builds the dicts from the result's field names (``dict_row``),
    not from ``cursor.description``, which would build a Column object per
    column per query. With ``prepare_threshold=None`` (behind PgBouncer,
    ``versatools.config``) nothing is prepared by name.
    """
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        raw = psycopg.Cursor(db.connection, row_factory=dict_row)
    # Wrapped as Django wraps the cursors it creates (the debug wrapper while queries are logged).
    wrapper = CursorDebugWrapper if db.queries_logged else CursorWrapper
    with wrapper(raw, db) as cursor:
        cursor.execute(sql, params)
        result = raw.pgresult
        return raw.fetchall() if result is not None and result.nfields else []


def _rows(cursor: Any) -> list[Row] | None:
    """The rows of the statement just run, by column name; None if it returns no columns."""
    if not cursor.description:
        return None
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def array_param(values: Iterable[Any]) -> Any:
    """Ids or numbers as one parameter for ``= ANY(%(ids)s::uuid[])`` or ``unnest`` (SQLite: ``json_each``).

    On PostgreSQL one array literal: binding a list would have the driver
    quote each of 1,000 elements in Python. On SQLite a list, sent as JSON.
    """
    if connection.vendor == "sqlite":
        return list(values)
    return "{" + ",".join(str(value) for value in values) + "}"


@cache
def _statements(name: str) -> list[str]:
    # sqlparse knows where a statement ends (not inside a string or a trigger body).
    return [statement.rstrip().rstrip(";") for statement in sqlparse.split(read_sql(name)) if statement.strip()]


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
