from __future__ import annotations

import logging

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_slow_queries_are_logged_with_sql_but_without_parameter_values(settings, caplog) -> None:
    settings.SLOW_QUERY_MS = 20
    secret = "alice@example.com"

    with caplog.at_level(logging.WARNING, logger="versatools.slow_queries"), connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.05), %s::text", [secret])
        cursor.execute("SELECT 1")

    messages = [record.getMessage() for record in caplog.records if record.name == "versatools.slow_queries"]
    assert len(messages) == 1
    assert messages[0].startswith("slow query ")
    assert "SELECT pg_sleep(0.05), %s::text" in messages[0]
    assert secret not in messages[0]
