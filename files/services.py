"""Writes for stored files: uploads, deletes, expiry cleanup, reconciliation.

The order of operations is the design:

- Store: the row and its quota commit first, then the blob is written. A crash
  in between leaves a row without a blob, which cleanup and reconcile forget;
  never a blob nobody knows about. If the row was deleted while the blob was
  being written (its run or its user went), the writer deletes the blob it
  just wrote: the owed delete may have run before the blob existed.
- Delete (cleanup, reconcile): the blob first, then the row, in the
  transaction that claimed the row. A row without its object is harmless; an
  object without its row is an orphan nobody will find.
- Any other delete of a row (a user or operator deleting a run or a file, a
  user deleted with everything they own, an FK cascade, raw SQL, the Data
  API): the database's storage_objects_deleted trigger writes a
  StorageDeletion row in the deleting transaction; the blob is deleted after
  commit (or by the next cleanup pass). A rolled-back delete deletes nothing.

Storage bytes are counted against the plan's quota when a row is created and
given back by the same trigger when a row is deleted, in the same
transaction, whoever deletes it. Reconcile recounts them from the live rows.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any, NamedTuple

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Collate
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.selectors import STORAGE_METRIC, STORAGE_WINDOW, effective_plan
from billing.services import usage_consume
from files import storage
from files.exceptions import StorageUnavailable
from files.models import ObjectRole, StorageDeletion, StorageObject
from files.validation import check_content_type, clean_file_name, measure_size
from versatools.errors import NotFound
from versatools.retry import retry_on_lock_conflict
from versatools.sqlfiles import run_query

logger = logging.getLogger(__name__)

# Objects per page when reconcile compares storage with the table.
RECONCILE_PAGE = 1000


class _Blob(NamedTuple):
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
            f"{self.object_rows_deleted} object row(s), {self.runs_deleted} run(s), "
            f"{self.deletions_completed} owed delete(s) finished, {self.bytes_released} byte(s) released; "
            f"{self.failed_keys} key(s) refused, {self.storage_failures} storage failure(s)"
        )
        return f"{line}: {self.error}" if self.error else line


# --- Store -------------------------------------------------------------------


def storage_object_store(
    *,
    user_id: uuid.UUID,
    content: IO[bytes] | bytes,
    name: str | bytes,
    run_id: uuid.UUID | None = None,
    role: str = ObjectRole.INPUT,
    tool_id: str | None = None,
) -> StorageObject:
    """Validate an upload, count it against the quota, record it, then write it.

    Raises FileNameInvalid/UploadInvalid (400), FileTooLarge (413),
    FileTypeNotAllowed (415), QuotaExceeded (429), NotFound (an unknown or
    expired run) or StorageUnavailable (503). On any of them nothing is kept:
    no row, no object, no usage.
    """
    if isinstance(content, bytes):
        content = ContentFile(content)
    original_name = clean_file_name(name)
    limits = effective_plan(user_id=user_id).limits
    size = measure_size(content, max_bytes=limits.max_file_bytes)
    content_type, ext = check_content_type(content, tool_id=tool_id)

    now = timezone.now()
    backend = storage.default_backend()
    provider, bucket = storage.describe(backend)
    key = storage.build_key(user_id=user_id, entity="runs" if run_id else "uploads", ext=ext, at=now)
    obj = _storage_object_record(
        user_id=user_id,
        run_id=run_id,
        role=role,
        provider=provider,
        bucket=bucket,
        key=key,
        original_name=original_name,
        content_type=content_type,
        size=size,
        storage_bytes_limit=limits.storage_bytes,
        expires_at=now + timedelta(hours=limits.retention_hours),
        now=now,
    )
    try:
        storage.write(backend=backend, key=key, content=content, content_type=content_type)
    except Exception as error:
        logger.warning("Writing %s failed: %s", key, error)
        _storage_object_abandon(obj)
        raise StorageUnavailable("The file could not be stored; try again.") from error
    if not StorageObject.objects.filter(id=obj.id).exists():
        # Deleted while the blob was being written (its run or its user went):
        # the delete it was owed may have run before the blob existed. Owe it again.
        _storage_deletions_owe(blobs=[_Blob(obj.id, key, provider, bucket)])
        raise NotFound("The run was deleted while its file was being stored.")
    return obj


# durable: the row must be committed before the blob exists, so this cannot
# run inside a caller's transaction (a crash before that commit would leave
# an untracked blob). Retried whole on a lock conflict: nothing is written yet.
@retry_on_lock_conflict
@transaction.atomic(durable=True)
def _storage_object_record(
    *,
    user_id: uuid.UUID,
    run_id: uuid.UUID | None,
    storage_bytes_limit: int,
    expires_at: datetime,
    now: datetime,
    **fields: Any,
) -> StorageObject:
    if run_id is not None:
        # The run before the counter: the lock order every writer keeps.
        rows = run_query(
            "run_hold_for_output", {"run_id": uuid.UUID(str(run_id)), "user_id": uuid.UUID(str(user_id)), "now": now}
        )
        if not rows:
            raise NotFound("No such run.")
        expires_at = _as_datetime(rows[0]["expires_at"])
    usage_consume(
        user_id=user_id,
        metric=STORAGE_METRIC,
        amount=fields["size"],
        limit=storage_bytes_limit,
        window_start=STORAGE_WINDOW[0],
        window_end=STORAGE_WINDOW[1],
    )
    return StorageObject.objects.create(user_id=user_id, run_id=run_id, expires_at=expires_at, **fields)


def _as_datetime(value: datetime | str) -> datetime:
    # SQLite hands raw cursors its text form: naive UTC.
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def _storage_object_abandon(obj: StorageObject) -> None:
    """Undo a store whose write failed: delete what may have been written, then the row."""
    blob = _Blob(obj.id, obj.key, obj.provider, obj.bucket, obj.user_id, obj.size)
    result = CleanupResult()
    with transaction.atomic(durable=True):
        locked = list(StorageObject.objects.select_for_update().filter(id=obj.id).values_list("id", flat=True))
        if not locked:
            return
        gone = _delete_blobs([blob], result)
        if gone:
            _forget_objects([blob], result)
            return
        # Storage is down: let cleanup finish the job as soon as it can.
        StorageObject.objects.filter(id=obj.id).update(expires_at=timezone.now())


# --- Delete one file, a run's files; owed deletes ------------------------------


# The trigger owes each deleted row's blob its delete; files.signals asks for it after commit.


@retry_on_lock_conflict
def storage_object_delete(*, user_id: uuid.UUID, object_id: uuid.UUID) -> None:
    """The owner deletes one file; its blob goes after commit."""
    with transaction.atomic():
        deleted, _ = StorageObject.objects.filter(id=object_id, user_id=user_id).delete()
        if not deleted:
            raise NotFound("No such file.")


def storage_objects_delete_for_run(*, run_id: uuid.UUID) -> int:
    """Delete a run's files (the run stays); blobs go after commit. How many.

    Inside a run delete this runs after the run is locked, so no output row
    can be committed between the lookup and the delete.
    """
    with transaction.atomic():
        deleted, _ = StorageObject.objects.filter(run_id=run_id).delete()
    return deleted


def storage_deletions_dispatch(*, keys: list[str], using: str = "default") -> None:
    """After commit, ask a worker to delete the blobs owed for these keys.

    The owed deletes themselves are already written, by the trigger, in the
    caller's transaction; if the broker or storage fails now, the next cleanup
    pass finishes them. A rolled-back transaction dispatches nothing.
    """
    if not keys:
        return

    def dispatch() -> None:
        from files.tasks import delete_owed_blobs  # the tasks module imports this one

        delete_owed_blobs.delay(keys=keys)

    transaction.on_commit(dispatch, using=using, robust=True)


def _storage_deletions_owe(*, blobs: list[_Blob]) -> None:
    """Owe blobs a delete whose rows are already gone, and ask for it now."""
    with transaction.atomic():
        StorageDeletion.objects.bulk_create(
            [StorageDeletion(provider=blob.provider, bucket=blob.bucket, key=blob.key) for blob in blobs]
        )
        storage_deletions_dispatch(keys=[blob.key for blob in blobs])


def storage_deletions_process(*, ids: Iterable[int] = (), keys: Iterable[str] = ()) -> CleanupResult:
    """Delete the blobs owed by these StorageDeletion rows (by id or by key), then the rows."""
    result = CleanupResult()
    ids, keys = list(ids), list(keys)
    with transaction.atomic(durable=True):
        rows = list(
            StorageDeletion.objects.select_for_update(skip_locked=True)
            .filter(Q(id__in=ids) | Q(key__in=keys))
            .values_list("id", "key", "provider", "bucket")
        )
        _finish_deletions([_Blob(*row) for row in rows], result)
    return result


# --- Cleanup -------------------------------------------------------------------


class _Cursor(NamedTuple):
    at: Any
    id: Any


def storage_cleanup_expired(
    *,
    batch_size: int | None = None,
    limit: int | None = None,
    now: datetime | None = None,
    on_batch: Callable[[CleanupResult], None] | None = None,
) -> CleanupResult:
    """Delete what has expired: owed deletes, expired runs with their objects, other expired objects.

    Each batch is claimed with SELECT ... FOR UPDATE SKIP LOCKED in its own
    transaction, so parallel cleanups never take the same row; blobs are
    deleted first, then the rows whose blobs storage confirmed. A storage
    that stops answering ends the pass: the rows it did not confirm stay for
    the next one. ``limit`` caps the rows claimed in this pass.
    """
    now = now or timezone.now()
    size = batch_size or settings.CLEANUP_BATCH_SIZE
    result = CleanupResult()
    started = time.monotonic()
    for phase in (_deletions_batch, _expired_runs_batch, _expired_objects_batch):
        cursor: _Cursor | None = None
        while not result.storage_failures:
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
    log = logger.warning if result.storage_failures or result.failed_keys else logger.info
    log("Storage cleanup in %.1fs: %s", time.monotonic() - started, result.summary())
    return result


def _deletions_batch(*, now: datetime, size: int, cursor: _Cursor | None, result: CleanupResult) -> tuple[int, Any]:
    with transaction.atomic(durable=True):
        query = StorageDeletion.objects.select_for_update(skip_locked=True).order_by("id")
        if cursor is not None:
            query = query.filter(id__gt=cursor.id)
        rows = [_Blob(*row) for row in query.values_list("id", "key", "provider", "bucket")[:size]]
        if rows:
            _finish_deletions(rows, result)
    return len(rows), _Cursor(None, rows[-1].id) if rows else cursor


class _Undo(Exception):
    """Roll a cleanup batch back: storage did not confirm every blob."""


def _expired_runs_batch(*, now: datetime, size: int, cursor: _Cursor | None, result: CleanupResult) -> tuple[int, Any]:
    # The hot path (most expired blobs belong to expired runs): runs and their
    # object rows are deleted by the statement that claims them, the blobs
    # next, and the commit makes it final only if storage confirmed them all.
    # Two round trips per batch (take, commit) when all goes well.
    confirmed: list[str] = []
    try:
        with transaction.atomic(durable=True):
            _blobs_deleted_here()
            rows = run_query(
                "storage_cleanup_take_runs",
                {
                    "now": now,
                    "after_at": cursor.at if cursor else None,
                    "after_id": cursor.id if cursor else None,
                    "size": size,
                },
            )
            if not rows:
                return 0, cursor
            run_ids = list(dict.fromkeys(row["run_id"] for row in rows))
            blobs = [
                _Blob(row["object_id"], row["key"], row["provider"], row["bucket"], size=row["size"])
                for row in rows
                if row["object_id"] is not None
            ]
            gone = _delete_blobs(blobs, result)
            confirmed = [blob.id for blob in blobs if blob.key in gone]
            if len(confirmed) < len(blobs):
                raise _Undo
    except _Undo:
        # Rows back as they were; forget only what storage confirmed. A crash
        # right here leaves rows whose blobs are gone: the next pass finds
        # them already deleted.
        with transaction.atomic(durable=True):
            _forget(object_ids=confirmed, run_ids=run_ids, result=result)
    else:
        result.runs_deleted += len(run_ids)
        result.object_rows_deleted += len(blobs)
        result.bytes_released += sum(blob.size for blob in blobs)
    return len(run_ids), _Cursor(rows[-1]["run_expires_at"], rows[-1]["run_id"])


def _expired_objects_batch(
    *, now: datetime, size: int, cursor: _Cursor | None, result: CleanupResult
) -> tuple[int, Any]:
    # Expired objects whose run lives on (or that have no run).
    with transaction.atomic(durable=True):
        query = (
            StorageObject.objects.select_for_update(skip_locked=True)
            # deleted_at IS NULL: the partial index storage_objects_expiry_idx.
            .filter(deleted_at__isnull=True, expires_at__lte=now)
            .order_by("expires_at", "id")
        )
        if cursor is not None:
            query = query.filter(
                Q(expires_at__gt=cursor.at) | Q(expires_at=cursor.at, id__gt=cursor.id), expires_at__gte=cursor.at
            )
        rows = list(query.values_list("id", "key", "provider", "bucket", "expires_at")[:size])
        if rows:
            blobs = [_Blob(*row[:4]) for row in rows]
            gone = _delete_blobs(blobs, result)
            _forget(object_ids=[blob.id for blob in blobs if blob.key in gone], run_ids=[], result=result)
    return len(rows), _Cursor(rows[-1][4], rows[-1][0]) if rows else cursor


def _delete_blobs(blobs: list[_Blob], result: CleanupResult) -> set[str]:
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


def _uuid_array(ids: Iterable[Any]) -> str:
    # One array literal: binding a list would quote each of 1,000 elements in Python.
    return "{" + ",".join(str(value) for value in ids) + "}"


def _blobs_deleted_here() -> None:
    """Tell the storage_objects_deleted trigger that this transaction deletes its blobs itself."""
    run_query("storage_blobs_deleted_by_caller", {})


def _forget(*, object_ids: list[Any], run_ids: list[Any], result: CleanupResult) -> None:
    """Delete confirmed-gone object rows (the trigger gives their bytes back) and claimed runs left without objects.

    Must run inside the caller's transaction (the flag below is transaction-local).
    """
    if not object_ids and not run_ids:
        return
    _blobs_deleted_here()
    [forgotten] = run_query(
        "storage_cleanup_forget",
        {"object_ids": _uuid_array(object_ids), "run_ids": _uuid_array(run_ids)},
    )
    result.object_rows_deleted += forgotten["object_rows_deleted"]
    result.bytes_released += int(forgotten["bytes_released"])
    result.runs_deleted += forgotten["runs_deleted"]


def _forget_objects(blobs: list[_Blob], result: CleanupResult) -> None:
    _forget(object_ids=[blob.id for blob in blobs], run_ids=[], result=result)


def _finish_deletions(rows: list[_Blob], result: CleanupResult) -> None:
    gone = _delete_blobs(rows, result)
    done = [row.id for row in rows if row.key in gone]
    if done:
        StorageDeletion.objects.filter(id__in=done).delete()
    result.deletions_completed += len(done)


# --- Reconcile -------------------------------------------------------------------


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
        StorageObject.objects.filter(provider=provider, bucket=bucket, created_at__lte=cutoff)
        .annotate(byte_key=Collate("key", "C"))
        .order_by("byte_key")
        .values_list("id", "key", "provider", "bucket", "user_id", "size")
    )
    last = ""
    while True:
        page_rows = [_Blob(*row) for row in rows.filter(byte_key__gt=last)[:RECONCILE_PAGE]]
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
    """Each user's storage counter against their live rows: (how many are off, how many were set)."""
    window = {"metric": STORAGE_METRIC, "window_start": STORAGE_WINDOW[0]}
    run_query("storage_usage_lock", window)
    [recount] = run_query("storage_usage_recount", {**window, "window_end": STORAGE_WINDOW[1], "repair": repair})
    return int(recount["counters_off"]), int(recount["counters_repaired"])


def _forget_missing(rows: list[_Blob]) -> int:
    """Delete rows whose object is missing (rows someone else holds are left for later)."""
    scratch = CleanupResult()
    with transaction.atomic(durable=True):
        locked = set(
            StorageObject.objects.select_for_update(skip_locked=True)
            .filter(id__in=[row.id for row in rows])
            .values_list("id", flat=True)
        )
        _forget_objects([row for row in rows if row.id in locked], scratch)
    return scratch.object_rows_deleted


def storage_objects_attach(*, object_ids: list[uuid.UUID], run_id: uuid.UUID, expires_at: datetime) -> None:
    """Make stored uploads the inputs of a run: they now live and die with the run.

    Called inside the transaction that creates the run.
    """
    StorageObject.objects.filter(id__in=object_ids).update(
        run_id=run_id, expires_at=expires_at, updated_at=timezone.now()
    )
