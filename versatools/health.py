"""Checks behind /healthz: can this process reach what a request needs?"""

from __future__ import annotations

import os
from collections.abc import Callable

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    if not settings.REDIS_URL:
        return  # eager mode: no broker to reach
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def check_storage() -> None:
    backend = default_storage
    bucket = getattr(backend, "bucket", None)
    if bucket is not None:
        backend.connection.meta.client.head_bucket(Bucket=backend.bucket_name)
        return
    location = getattr(backend, "location", "")
    if not os.path.isdir(location) and location:
        os.makedirs(location, exist_ok=True)
    if not os.access(location, os.W_OK):
        raise OSError(f"{location} is not writable")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "storage": check_storage,
}


def health_report() -> dict[str, str]:
    """``{"database": "ok", "redis": "down: ...", ...}`` for every check."""
    report = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure means "down"; the text says which
            report[name] = f"down: {type(exc).__name__}: {str(exc)[:200]}"
        else:
            report[name] = "ok"
    return report
