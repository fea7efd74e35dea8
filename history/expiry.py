"""Expiry: runs whose time is up leave with their files, each table written by its own app.

A pass, run by beat every CLEANUP_INTERVAL_MINUTES and by ``cleanup_storage --yes``:

1. Expired runs still PENDING or PROCESSING are failed through ``run_fail``
   (credits and quota unit given back, exactly once) before anything goes.
2. Expired finished runs go in batches: history claims them
   (FOR UPDATE SKIP LOCKED, the run first in the lock order), files deletes
   their objects' blobs and rows (``storage_objects_purge_for_runs``), then
   history deletes the runs left without objects. The storage_objects_deleted
   trigger gives the bytes back to each owner's storage quota. If storage
   does not confirm every blob, the batch is rolled back and only the
   confirmed objects are forgotten: the others keep their run for a later pass.
3. Files' own part: owed deletes, then expired objects of runs that live on
   (``files.cleanup.storage_cleanup_expired``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.sqlfiles import array_param, run_query
from files.cleanup import (
    BlobsNotConfirmed,
    CleanupResult,
    Cursor,
    cleanup_phases,
    storage_cleanup_expired,
    storage_objects_forget,
    storage_objects_purge_for_runs,
)
from history.services import runs_fail_expired_unfinished

logger = logging.getLogger(__name__)


def expire_runs_and_files(
    *,
    batch_size: int | None = None,
    limit: int | None = None,
    now: datetime | None = None,
    on_batch: Callable[[CleanupResult], None] | None = None,
) -> CleanupResult:
    """One expiry pass: unfinished expired runs failed and refunded, expired runs and files deleted.

    ``limit`` caps the rows claimed in the pass (runs, owed deletes, objects);
    a storage that stops answering ends it, and what it did not confirm stays
    for the next pass.
    """
    now = now or timezone.now()
    started = time.monotonic()
    result = CleanupResult()
    result.runs_failed = runs_fail_expired_unfinished(now=now, limit=limit)
    cleanup_phases(
        (_expired_runs_batch,), now=now, batch_size=batch_size, limit=limit, result=result, on_batch=on_batch
    )
    if not result.storage_failures:
        storage_cleanup_expired(batch_size=batch_size, limit=limit, now=now, on_batch=on_batch, result=result)
    logger.info("Expiry pass in %.1fs", time.monotonic() - started)
    return result


def _expired_runs_batch(
    *, now: datetime, size: int, cursor: Cursor | None, result: CleanupResult
) -> tuple[int, Cursor | None]:
    # Four statements for up to CLEANUP_BATCH_SIZE runs when all goes well:
    # claim, delete the objects (the blobs in between), delete the runs, commit.
    claim = {
        "now": now,
        "after_at": cursor.at if cursor else None,
        "after_id": cursor.id if cursor else None,
        "size": size,
    }
    try:
        with transaction.atomic(durable=True):
            runs = run_query("history_expired_claim", claim)
            if not runs:
                return 0, cursor
            run_ids = [row["id"] for row in runs]
            storage_objects_purge_for_runs(run_ids=run_ids, result=result)
            deleted = run_query("history_delete_emptied", {"run_ids": array_param(run_ids)})
    except BlobsNotConfirmed as partial:
        # Rows back as they were; forget only what storage confirmed. A crash
        # right here leaves rows whose blobs are gone: the next pass finds
        # them already deleted.
        with transaction.atomic(durable=True):
            storage_objects_forget(object_ids=partial.confirmed, result=result)
            deleted = run_query("history_delete_emptied", {"run_ids": array_param(run_ids)})
    result.runs_deleted += len(deleted)
    return len(runs), Cursor(runs[-1]["expires_at"], runs[-1]["id"])
