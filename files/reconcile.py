"""Reconcile: compare storage with the table in pages; report, and repair on request.

Storage is listed under the app's prefix; objects without a row (and without
an owed delete), rows without an object, and storage counters that differ
from the bytes of each user's live rows are reported. Repair deletes the
first two kinds once older than a grace period (younger ones may be an
upload in flight) and recounts the counters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Collate
from django.utils import timezone

from billing.services import storage_usage_lock, storage_usage_recount
from core.retry import retry_on_lock_conflict
from core.sqlfiles import run_query
from files import storage
from files.cleanup import Blob, CleanupResult, objects_forget
from files.models import StorageDeletion, StorageObject

logger = logging.getLogger(__name__)

# Objects per page when reconcile compares storage with the table.
RECONCILE_PAGE = 1000


@dataclass
class ReconcileResult:
    objects_listed: int = 0
    orphans: int = 0  # objects with no row and no owed delete
    orphans_recent: int = 0  # of those, younger than the grace period: left alone
    orphans_deleted: int = 0
    rows_checked: int = 0
    rows_missing_object: int = 0
    rows_repaired: int = 0
    directories_removed: int = 0
    counters_off: int = 0  # users whose storage counter differs from the bytes of their live rows
    counters_repaired: int = 0
    repaired: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.objects_listed} object(s) listed: {self.orphans} without a row "
            f"({self.orphans_recent} within the grace period, {self.orphans_deleted} deleted); "
            f"{self.rows_checked} row(s) checked: {self.rows_missing_object} without an object "
            f"({self.rows_repaired} removed); {self.counters_off} storage counter(s) off "
            f"({self.counters_repaired} recounted)"
        )


def storage_reconcile(
    *,
    repair: bool,
    grace: timedelta | None = None,
    now: datetime | None = None,
    on_page: Callable[[ReconcileResult], None] | None = None,
) -> ReconcileResult:
    """Compare storage under the app's prefix with the table, in pages; report and repair.

    Repair deletes objects with no row (and no owed delete) older than
    ``grace``, and rows older than ``grace`` whose object is missing (giving
    their bytes back). Younger ones may be an upload in flight: left alone.
    Only the configured backend is checked.
    """
    now = now or timezone.now()
    grace = timedelta(hours=settings.RECONCILE_GRACE_HOURS) if grace is None else grace
    cutoff = now - grace
    backend = storage.default_backend()
    provider, bucket = storage.describe(backend)
    result = ReconcileResult(repaired=repair)

    listing = storage.iter_objects(backend=backend, prefix=storage.key_prefix())
    for page in storage.chunked(listing, RECONCILE_PAGE):
        keys = [item.key for item in page]
        known = set(StorageObject.objects.filter(key__in=keys).values_list("key", flat=True))
        known.update(StorageDeletion.objects.filter(key__in=keys).values_list("key", flat=True))
        orphans = [item for item in page if item.key not in known]
        old = [item.key for item in orphans if item.modified <= cutoff]
        result.objects_listed += len(page)
        result.orphans += len(orphans)
        result.orphans_recent += len(orphans) - len(old)
        if repair and old:
            outcome = storage.delete_keys(backend=backend, keys=old)
            result.orphans_deleted += len(outcome.deleted)
        if on_page is not None:
            on_page(result)

    # Rows in byte order of their keys (COLLATE "C"), the order S3 lists in.
    rows = (
        # A reservation awaiting its direct upload has no object yet, by design; expiry deletes it unused.
        StorageObject.objects.filter(provider=provider, bucket=bucket, created_at__lte=cutoff, awaiting_upload=False)
        .annotate(byte_key=Collate("key", "C"))
        .order_by("byte_key")
        .values_list("id", "key", "provider", "bucket", "user_id", "size")
    )
    last = ""
    while True:
        page_rows = [Blob(*row) for row in rows.filter(byte_key__gt=last)[:RECONCILE_PAGE]]
        if not page_rows:
            break
        last = page_rows[-1].key
        result.rows_checked += len(page_rows)
        present = storage.existing_keys(backend=backend, keys=[row.key for row in page_rows])
        missing = [row for row in page_rows if row.key not in present]
        result.rows_missing_object += len(missing)
        if repair and missing:
            result.rows_repaired += _forget_missing(missing)
        if on_page is not None:
            on_page(result)

    # Last: the rows are now what storage holds, so the counters can follow them.
    result.counters_off, result.counters_repaired = _storage_usage_recount(repair=repair)
    if repair:
        result.directories_removed = storage.remove_empty_directories(
            backend=backend, prefix=storage.key_prefix(), older_than=cutoff
        )
    logger.info("Storage reconcile: %s", result.summary())
    return result


@retry_on_lock_conflict
@transaction.atomic(durable=True)
def _storage_usage_recount(*, repair: bool) -> tuple[int, int]:
    """Each user's storage counter against their live rows: (how many are off, how many were set).

    Billing owns the counters: it locks them, files counts its rows, billing sets them.
    """
    storage_usage_lock()
    live = {row["user_id"]: int(row["bytes"]) for row in run_query("storage_live_bytes", {})}
    return storage_usage_recount(live_bytes=live, repair=repair)


def _forget_missing(rows: list[Blob]) -> int:
    """Delete rows whose object is missing (rows someone else holds are left for later)."""
    scratch = CleanupResult()
    with transaction.atomic(durable=True):
        locked = set(
            StorageObject.objects.select_for_update(skip_locked=True)
            .filter(id__in=[row.id for row in rows])
            .values_list("id", flat=True)
        )
        objects_forget([row for row in rows if row.id in locked], scratch)
    return scratch.object_rows_deleted
