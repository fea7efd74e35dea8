"""Expiry: runs whose time is up leave with their files, each table written by its own app.

A pass, run by beat every CLEANUP_INTERVAL_MINUTES and by ``cleanup_storage --yes``:

1. Expired runs still PENDING or PROCESSING are failed through ``run_fail``
   (credits and quota unit given back, exactly once) before anything goes.
2. Files' part (``files.cleanup.storage_cleanup_expired``): owed deletes,
   then every expired object, blob first, then row. A run's files expire
   with it (inputs join a run with its expiry, outputs take it), so this is
   where a run's files go; the storage_objects_deleted trigger gives the
   bytes back to each owner's storage quota.
3. History's part: the expired finished runs left without objects are
   deleted, a batch per statement (``history_expired_delete.sql``). A run
   whose object storage refused to delete keeps its row for a later pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.sqlfiles import array_param, run_query
from files.cleanup import CleanupResult, Cursor, cleanup_phases, storage_cleanup_expired
from files.services import storage_objects_expire_for_runs
from history.models import FINISHED_STATUSES, History
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

    def runs_emptied(run_ids: list[str]) -> None:
        # Inside files' batch transaction: the runs whose objects it just took.
        result.runs_deleted += len(
            run_query("history_runs_delete_emptied", {"now": now, "run_ids": array_param(run_ids)})
        )

    for _ in range(2):
        storage_cleanup_expired(
            batch_size=batch_size, limit=limit, now=now, on_batch=on_batch, result=result, runs_emptied=runs_emptied
        )
        # What is left: runs that had no files, or whose files went in a batch
        # storage did not fully confirm.
        # Runs whose files went before a storage failure still go in this pass.
        cleanup_phases(
            (_expired_runs_batch,),
            now=now,
            batch_size=batch_size,
            limit=limit,
            result=result,
            on_batch=on_batch,
            needs_storage=False,
        )
        if result.storage_failures or not _files_of_expired_runs_expire(now=now):
            break
    logger.info("Expiry pass in %.1fs: %d run(s) deleted", time.monotonic() - started, result.runs_deleted)
    return result


def _files_of_expired_runs_expire(*, now: datetime) -> int:
    """Bring forward the expiry of files whose run has expired; how many.

    A run's files expire with it (every writer sets them so), but a run's
    expiry changed by hand (SQL, the dashboard) would leave its files, and so
    its row, behind for ever. The runs left after a pass are few (those whose
    files storage refused, or someone held): looking at them costs one small
    query, and a second round takes what this brought forward.
    """
    left = History.objects.filter(expires_at__lte=now, status__in=FINISHED_STATUSES).order_by("expires_at")
    run_ids = list(left.values_list("id", flat=True)[: settings.CLEANUP_BATCH_SIZE])
    return storage_objects_expire_for_runs(run_ids=run_ids, at=now) if run_ids else 0


def _expired_runs_batch(
    *, now: datetime, size: int, cursor: Cursor | None, result: CleanupResult
) -> tuple[int, Cursor | None]:
    # One statement and its commit for up to CLEANUP_BATCH_SIZE runs.
    with transaction.atomic(durable=True):
        deleted = run_query("history_expired_delete", Cursor.params(cursor, now=now, size=size))
    if not deleted:
        return 0, cursor
    result.runs_deleted += len(deleted)
    return len(deleted), Cursor.after(deleted)
