"""Run a transaction again when PostgreSQL aborted it for a lock conflict.

Lock order is designed (history/services.py: the run, then the user's rows,
then the shared per-tool rows), but not every writer is ours: a user deleted
from Supabase's dashboard cascades in the order PostgreSQL chooses, and a
Data API delete runs beside the worker. PostgreSQL then breaks the cycle by
aborting one transaction with a deadlock (40P01) or, at a stricter isolation
level, a serialization failure (40001). Both mean "nothing of yours was
written, try again", so the outermost transaction is retried a bounded
number of times; a caller never sees a 500 for it.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DatabaseError, connection

from core.errors import ServiceError

logger = logging.getLogger(__name__)

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 4

P = ParamSpec("P")
R = TypeVar("R")


def is_lock_conflict(error: BaseException) -> bool:
    """A deadlock or serialization failure, as PostgreSQL reports it through Django."""
    cause = error.__cause__ if isinstance(error, DatabaseError) else error
    return getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


class Busy(ServiceError):
    """Still conflicting after every attempt: nothing was written; the API answers 503."""

    code = "busy"
    http_status = 503


def retry_on_lock_conflict(func: Callable[P, R]) -> Callable[P, R]:
    """Retry ``func`` (one whole transaction) after a deadlock or serialization failure.

    Only where ``func`` is the outermost transaction: inside someone else's
    atomic block the whole outer transaction is already aborted, so the error
    goes up to whoever owns it. ``func`` must be safe to run again from the
    start, which a rolled-back transaction is (its on_commit callbacks went
    with it).
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            return func(*args, **kwargs)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except DatabaseError as error:
                if not is_lock_conflict(error):
                    raise
                if attempt == ATTEMPTS:
                    raise Busy(f"{func.__qualname__} kept conflicting with other writers") from error
                logger.info("lock conflict, retrying func=%s attempt=%s error=%s", func.__qualname__, attempt, error)
                # Jittered backoff, so the two sides of a cycle do not meet again in step.
                time.sleep(random.uniform(0.005, 0.02) * 2**attempt)
        raise AssertionError("unreachable")

    return wrapper
