"""Checks behind /healthz: can this process reach what a request needs?"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection

# A check's answer when the thing it checks is not in use: neither ok nor down.
NOT_CONFIGURED = "not_configured"


def check_database() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return None


def check_redis() -> str | None:
    if not settings.REDIS_URL:
        # Eager mode (tasks run in-process): there is no broker, and "ok"
        # would claim one answered.
        return NOT_CONFIGURED
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return None


def check_storage() -> str | None:
    backend = default_storage
    bucket = getattr(backend, "bucket", None)
    if bucket is not None:
        s3: Any = backend  # an S3Storage (django-storages ships no types)
        s3.connection.meta.client.head_bucket(Bucket=s3.bucket_name)
        return None
    location = getattr(backend, "location", "")
    if not os.path.isdir(location) and location:
        os.makedirs(location, exist_ok=True)
    if not os.access(location, os.W_OK):
        raise OSError(f"{location} is not writable")
    return None


# Each check raises when down, else returns None ("ok") or another state (NOT_CONFIGURED).
CHECKS: dict[str, Callable[[], str | None]] = {
    "database": check_database,
    "redis": check_redis,
    "storage": check_storage,
}


def health_report() -> dict[str, str]:
    """``{"database": "ok", "redis": "down: ...", ...}`` for every check ("not_configured" if unused)."""
    report = {}
    for name, check in CHECKS.items():
        try:
            state = check()
        except Exception as exc:  # any failure means "down"; the text says which
            report[name] = f"down: {type(exc).__name__}: {str(exc)[:200]}"
        else:
            report[name] = state or "ok"
    return report


def is_down(state: str) -> bool:
    return state.startswith("down")
