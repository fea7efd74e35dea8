"""Log queries slower than SLOW_QUERY_MS.

The log line has the duration and the SQL text with its placeholders, never
the parameter values: those may be emails, file names or tokens.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger("versatools.slow_queries")
MAX_SQL_CHARS = 2000
_COMMENT = re.compile(r"--[^\n]*")


def log_slow_queries(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        if elapsed_ms >= settings.SLOW_QUERY_MS:
            text = " ".join(_COMMENT.sub("", str(sql)).split())
            logger.warning("slow query %.0f ms: %s", elapsed_ms, text[:MAX_SQL_CHARS])


def install(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """connection_created receiver: wrap every query of the new connection."""
    if settings.SLOW_QUERY_MS and log_slow_queries not in connection.execute_wrappers:
        connection.execute_wrappers.append(log_slow_queries)
