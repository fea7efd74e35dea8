"""Expiry cleanup: what has expired or is owed a delete leaves storage, then the table.

Blob first, then row, in the transaction that claimed the row: a row without
its object is harmless, an object without its row is an orphan nobody will
find. Each batch is claimed with SELECT ... FOR UPDATE SKIP LOCKED, so
parallel cleaners never take the same row and never wait for each other.
Rows are forgotten with plain SQL after telling the storage_objects_deleted
trigger that their blobs are already gone (``blobs_deleted_here``); the
trigger still gives their bytes back to each owner's quota.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.sqlfiles import Row, array_param, run_query
from files import storage
from files.models import StorageDeletion

logger = logging.getLogger(__name__)


class Blob(NamedTuple):
    id: Any
    key: str
    provider: str
    bucket: str
    user_id: uuid.UUID | None = None
    size: int = 0


@dataclass
class CleanupResult:
    objects_deleted: int = 0  # blobs confirmed gone (deleted now or already absent)
    objects_missing: int = 0  # of those, already absent (filesystem only can tell)
    object_rows_deleted: int = 0
    runs_deleted: int = 0
    runs_failed: int = 0  # expired before they finished: failed and refunded first (history/expiry.py)
    deletions_completed: int = 0  # StorageDeletion rows (deletes owed after commit) finished
    bytes_released: int = 0
    failed_keys: int = 0  # keys storage refused to delete; their rows stay
    storage_failures: int = 0  # batches cut short by a storage that did not answer
    storage_requests: int = 0
    claimed: int = 0
    batches: int = 0
    error: str = ""
    transient: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        line = (
            f"{self.objects_deleted} object(s) deleted ({self.objects_missing} already gone), "
            f"{self.object_rows_deleted} object row(s), {self.runs_deleted} run(s) "
            f"({self.runs_failed} failed and refunded first), "
            f"{self.deletions_completed} owed delete(s) finished, {self.bytes_released} byte(s) released; "
            f"{self.failed_keys} key(s) refused, {self.storage_failures} storage failure(s)"
        )
        return f"{line}: {self.error}" if self.error else line


def storage_deletions_process(*, ids: Iterable[int] = (), keys: Iterable[str] = ()) -> CleanupResult:
    """Delete the blobs owed by these StorageDeletion rows (by id or by key), then the rows."""
    result = CleanupResult()
    ids, keys = list(ids), list(keys)
    with transaction.atomic(durable=True):
        rows = list(
            StorageDeletion.objects.select_for_update(skip_locked=True)
            .filter(Q(id__in=ids) | Q(key__in=keys))
            .filter(_due(timezone.now()))
            .values_list("id", "key", "provider", "bucket")
        )
        _finish_deletions([Blob(*row) for row in rows], result)
    return result


def _due(now: datetime) -> Q:
    """Owed deletes due by ``now``: all but the second deletes of keys a signed upload target can still write."""
    return Q(not_before__isnull=True) | Q(not_before__lte=now)


class Cursor(NamedTuple):
    """Where a pass's keyset paging stands: the last row's (sort key, id)."""

    at: Any
    id: Any

    @staticmethod
    def params(cursor: Cursor | None, *, now: datetime, size: int) -> dict[str, Any]:
        """The parameters of a keyset batch query (``after_at``/``after_id`` NULL on the first batch)."""
        return {
            "now": now,
            "after_at": cursor.at if cursor else None,
            "after_id": cursor.id if cursor else None,
            "size": size,
        }

    @staticmethod
    def after(rows: list[Row]) -> Cursor:
        """The cursor past rows returned in no particular order (DELETE ... RETURNING): the greatest."""
        last = max(rows, key=lambda row: (row["expires_at"], row["id"]))
        return Cursor(last["expires_at"], last["id"])


class Batch(Protocol):
    """One batch of a cleanup phase, in its own transaction: (rows claimed, the cursor after them)."""

    def __call__(
        self, *, now: datetime, size: int, cursor: Cursor | None, result: CleanupResult
    ) -> tuple[int, Cursor | None]: ...


def cleanup_phases(
    phases: Iterable[Batch],
    *,
    now: datetime,
    batch_size: int | None,
    limit: int | None,
    result: CleanupResult,
    on_batch: Callable[[CleanupResult], None] | None = None,
    needs_storage: bool = True,
) -> CleanupResult:
    """Run each phase batch after batch until it runs dry, ``limit`` rows are claimed, or storage fails.

    ``needs_storage=False``: phases that touch only the database go on after a storage failure.
    """
    size = batch_size or settings.CLEANUP_BATCH_SIZE
    for phase in phases:
        cursor: Cursor | None = None
        while not (needs_storage and result.storage_failures):
            room = size if limit is None else min(size, limit - result.claimed)
            if room <= 0:
                break
            claimed, cursor = phase(now=now, size=room, cursor=cursor, result=result)
            if not claimed:
                break
            result.claimed += claimed
            result.batches += 1
            if on_batch is not None:
                on_batch(result)
    return result


def storage_cleanup_expired(
    *,
    batch_size: int | None = None,
    limit: int | None = None,
    now: datetime | None = None,
    on_batch: Callable[[CleanupResult], None] | None = None,
    result: CleanupResult | None = None,
    runs_emptied: Callable[[list[str]], None] | None = None,
) -> CleanupResult:
    """Files' part of expiry: finish owed deletes, then delete expired objects (blob, then row).

    A run's files expire with it and go here; history then deletes the runs
    left empty (history/expiry.py ``expire_runs_and_files``, which calls
    this). Each batch is
    claimed with SELECT ... FOR UPDATE SKIP LOCKED in its own transaction, so
    parallel cleanups never take the same row; blobs are deleted first, then
    the rows whose blobs storage confirmed. A storage that stops answering
    ends the pass: the rows it did not confirm stay for the next one.
    ``limit`` caps the rows claimed in this pass; ``result`` continues a
    caller's tally. ``runs_emptied`` is called inside each batch's
    transaction, once storage confirmed every blob, with the runs the batch
    took objects of: the caller (history) deletes those left empty in the
    same commit, while the rows they just lost are still its own to look past.
    """
    now = now or timezone.now()
    started = time.monotonic()

    def objects_batch(*, now: datetime, size: int, cursor: Cursor | None, result: CleanupResult) -> Any:
        return _expired_objects_batch(now=now, size=size, cursor=cursor, result=result, runs_emptied=runs_emptied)

    result = cleanup_phases(
        (_deletions_batch, objects_batch),
        now=now,
        batch_size=batch_size,
        limit=limit,
        result=result or CleanupResult(),
        on_batch=on_batch,
    )
    log = logger.warning if result.storage_failures or result.failed_keys else logger.info
    log("Storage cleanup in %.1fs: %s", time.monotonic() - started, result.summary())
    return result


def _deletions_batch(
    *, now: datetime, size: int, cursor: Cursor | None, result: CleanupResult
) -> tuple[int, Cursor | None]:
    with transaction.atomic(durable=True):
        query = StorageDeletion.objects.select_for_update(skip_locked=True).filter(_due(now)).order_by("id")
        if cursor is not None:
            query = query.filter(id__gt=cursor.id)
        rows = [Blob(*row) for row in query.values_list("id", "key", "provider", "bucket")[:size]]
        if rows:
            _finish_deletions(rows, result)
    return len(rows), Cursor(None, rows[-1].id) if rows else cursor


class _Undo(Exception):
    """Roll a cleanup batch back: storage did not confirm every blob."""


def _expired_objects_batch(
    *,
    now: datetime,
    size: int,
    cursor: Cursor | None,
    result: CleanupResult,
    runs_emptied: Callable[[list[str]], None] | None = None,
) -> tuple[int, Cursor | None]:
    # The hot path (a run's files expire with it): the rows are deleted by the
    # statement that claims them, the blobs next, and the commit makes it
    # final only if storage confirmed them all. Two round trips per batch
    # (take, commit) when all goes well.
    confirmed: list[str] = []
    try:
        with transaction.atomic(durable=True):
            _blobs_deleted_here()
            rows = run_query("storage_objects_expired_take", Cursor.params(cursor, now=now, size=size))
            if not rows:
                return 0, cursor
            blobs = [Blob(row["id"], row["key"], row["provider"], row["bucket"], size=row["size"]) for row in rows]
            gone = blobs_delete(blobs, result)
            confirmed = [blob.id for blob in blobs if blob.key in gone]
            if len(confirmed) < len(blobs):
                raise _Undo
            run_ids = list(dict.fromkeys(row["run_id"] for row in rows if row["run_id"] is not None))
            if runs_emptied is not None and run_ids:
                runs_emptied(run_ids)
    except _Undo:
        # Rows back as they were; forget only what storage confirmed. A crash
        # right here leaves rows whose blobs are gone: the next pass finds
        # them already deleted.
        with transaction.atomic(durable=True):
            storage_objects_forget(object_ids=confirmed, result=result)
    else:
        result.object_rows_deleted += len(blobs)
        result.bytes_released += sum(blob.size for blob in blobs)
    return len(rows), Cursor.after(rows)


def blobs_delete(blobs: list[Blob], result: CleanupResult) -> set[str]:
    """Delete blobs, grouped by where they live. The keys confirmed gone."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for blob in blobs:
        groups[(blob.provider, blob.bucket)].append(blob.key)
    gone: set[str] = set()
    for (provider, bucket), keys in groups.items():
        try:
            outcome = storage.delete_keys(backend=storage.backend_for(provider, bucket), keys=keys)
        except storage.StorageDeleteFailed as failure:
            outcome = failure.outcome
            result.storage_failures += 1
            result.error = str(failure)
            result.transient = failure.transient
            logger.warning("Storage delete failed (%s); %d key(s) left for the next pass.", failure, len(keys))
        result.storage_requests += outcome.requests
        result.objects_deleted += len(outcome.deleted)
        result.objects_missing += outcome.missing
        result.failed_keys += len(outcome.failed)
        for key, reason in list(outcome.failed.items())[:5]:
            logger.warning("Storage refused to delete %s: %s", key, reason)
        gone.update(outcome.deleted)
        if result.storage_failures:
            break
    return gone


def _blobs_deleted_here() -> None:
    """Tell the storage_objects_deleted trigger that this transaction deletes its blobs itself."""
    run_query("storage_blobs_deleted_by_caller", {})


def storage_objects_forget(*, object_ids: list[Any], result: CleanupResult) -> None:
    """Delete object rows whose blobs storage confirmed gone; the trigger gives their bytes back.

    Inside the caller's transaction (the flag below is transaction-local).
    """
    if not object_ids:
        return
    _blobs_deleted_here()
    sizes = run_query("storage_cleanup_forget", {"object_ids": array_param(object_ids)})
    result.object_rows_deleted += len(sizes)
    result.bytes_released += sum(int(row["size"]) for row in sizes)


def objects_forget(blobs: list[Blob], result: CleanupResult) -> None:
    storage_objects_forget(object_ids=[blob.id for blob in blobs], result=result)


def _finish_deletions(rows: list[Blob], result: CleanupResult) -> None:
    gone = blobs_delete(rows, result)
    done = [row.id for row in rows if row.key in gone]
    if done:
        StorageDeletion.objects.filter(id__in=done).delete()
    result.deletions_completed += len(done)
