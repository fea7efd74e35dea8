"""Behind a pooler in transaction mode (`make test`'s second pass, through the local PgBouncer).

The whole database-touching suite runs a second time through PgBouncer with
``?pgbouncer=true``; these tests are the ones that would notice if that pass
quietly went straight to PostgreSQL, or if a pattern that needs a session
(a server-side cursor across transactions) crept back in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg
import pytest
from django.db import connection

from history.models import History


def through_pgbouncer() -> bool:
    # Only the ?pgbouncer=true URL form turns server-side cursors off.
    return bool(connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"))


def pooler_admin(sql: str) -> list[dict[str, Any]]:
    """A command on PgBouncer's admin console (the virtual ``pgbouncer`` database)."""
    db = connection.settings_dict
    with (
        psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="pgbouncer", autocommit=True) as conn,
        psycopg.ClientCursor(conn) as cursor,
    ):
        cursor.execute(sql)
        names = [column.name for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@contextmanager
def another_client_in_a_transaction() -> Iterator[None]:
    """A second client holding a transaction open on the same address as Django.

    Behind a pooler it takes the server connection Django's last transaction
    just released (PgBouncer reuses the most recent one), so Django's next
    transaction runs on a different server connection.
    """
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]) as other:
        other.execute("SELECT 1")
        yield


@pytest.mark.pgbouncer
@pytest.mark.django_db
def test_this_pass_reaches_postgresql_through_pgbouncer_in_transaction_mode() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), inet_server_port(), current_database()")
        pid, server_port, database = cursor.fetchone()

    # Django dialled the pooler, the statement ran on PostgreSQL's port...
    assert int(connection.settings_dict["PORT"]) != server_port
    # ...on the server connection PgBouncer has linked to this client right now.
    servers = [row for row in pooler_admin("SHOW SERVERS") if row["remote_pid"] == pid]
    assert [(row["database"], row["state"]) for row in servers] == [(database, "active")]
    pools = {row["database"]: row["pool_mode"] for row in pooler_admin("SHOW POOLS")}
    assert pools[database] == "transaction"
    assert connection.settings_dict["OPTIONS"]["prepare_threshold"] is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_iterator_over_5000_runs_survives_a_change_of_server_connection_between_chunks(make_user) -> None:
    user = make_user()
    History.objects.bulk_create(
        History(
            user=user,
            tool_id="pdf-merge",
            tool_name="PDF Merger",
            input_file_name=f"{i}.pdf",
            idempotency_key=f"iter-{i}",
        )
        for i in range(5000)
    )
    expected = list(History.objects.filter(user=user).order_by("id").values_list("id", flat=True))
    seen, backends = [], set()

    def backend() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    # Autocommit: each statement is a transaction of its own. At every chunk
    # another client takes the server connection Django just used and keeps it
    # until the next chunk is read; a server-side cursor (which lives on one
    # server connection) would then be out of reach.
    with ExitStack() as holder:
        for index, run in enumerate(History.objects.filter(user=user).order_by("id").iterator(chunk_size=500)):
            seen.append(run.id)
            if index % 500 == 0:
                holder.close()
                backends.add(backend())
                holder.enter_context(another_client_in_a_transaction())
                backends.add(backend())

    assert seen == expected and len(seen) == 5000
    if through_pgbouncer():
        assert len(backends) > 1  # the chunks really were read across server connections
    else:
        assert len(backends) == 1
