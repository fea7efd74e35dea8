"""Writes for stored files: uploads, deletes, attaching inputs to a run.

The order of operations is the design:

- Store: the row and its quota commit first, then the blob is written. A crash
  in between leaves a row without a blob, which cleanup and reconcile forget;
  never a blob nobody knows about. If the row was deleted while the blob was
  being written (its run or its user went), the writer deletes the blob it
  just wrote: the owed delete may have run before the blob existed.
- Any delete of a row (a user or operator deleting a run or a file, a user
  deleted with everything they own, an FK cascade, raw SQL, the Data API):
  the database's storage_objects_deleted trigger writes a StorageDeletion row
  in the deleting transaction and gives the bytes back to the owner's quota;
  the blob is deleted after commit (files.signals) or by the next cleanup
  pass (files.cleanup). A rolled-back delete deletes nothing.

Expiry cleanup lives in files.cleanup, the comparison of storage with the
table in files.reconcile. Supabase mode's bucket and per-user folder
policies on storage.objects (sql/storage/) are installed at the end.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any, NoReturn

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.models import Plan
from billing.selectors import STORAGE_METRIC, STORAGE_WINDOW, PlanLimits, effective_plan
from billing.services import usage_consume
from core.errors import NotFound
from core.retry import retry_on_lock_conflict
from core.sqlfiles import read_sql, run_query
from files import storage
from files.cleanup import Blob, CleanupResult, blobs_delete, objects_forget
from files.exceptions import (
    DirectUploadUnavailable,
    FileInUse,
    FileTooLarge,
    FileTypeNotAllowed,
    StorageUnavailable,
    UploadExpired,
    UploadInvalid,
    UploadMismatch,
    UploadMissing,
    UploadNotFound,
    UploadUsed,
)
from files.models import ObjectRole, StorageDeletion, StorageObject
from files.selectors import storage_bucket_rules
from files.validation import (
    SNIFF_BYTES,
    allowed_types,
    check_content_type,
    clean_file_name,
    measure_size,
    sniff_content_type,
)

logger = logging.getLogger(__name__)


def storage_object_store(
    *,
    user_id: uuid.UUID,
    content: IO[bytes] | bytes,
    name: str | bytes,
    run_id: uuid.UUID | None = None,
    role: str = ObjectRole.INPUT,
    tool_id: str | None = None,
    limits: PlanLimits | None = None,
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
    limits = limits or effective_plan(user_id=user_id).limits
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
    # A run's file can be deleted with its run while the blob is written (the
    # owner deletes the run as the worker stores its output), and the delete
    # it was owed may have run before the blob existed: check, and owe it again.
    # An upload without a run is checked when it joins one (storage_objects_attach).
    if run_id is not None and not StorageObject.objects.filter(id=obj.id).exists():
        _storage_deletions_owe(blobs=[Blob(obj.id, key, provider, bucket)])
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
    # SQLite hands raw cursors its text form, or a naive datetime: both UTC.
    parsed = value if isinstance(value, datetime) else parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def _storage_object_abandon(obj: StorageObject) -> None:
    """Undo a store whose write failed: delete what may have been written, then the row."""
    blob = Blob(obj.id, obj.key, obj.provider, obj.bucket, obj.user_id, obj.size)
    result = CleanupResult()
    with transaction.atomic(durable=True):
        locked = list(StorageObject.objects.select_for_update().filter(id=obj.id).values_list("id", flat=True))
        if not locked:
            return
        gone = blobs_delete([blob], result)
        if gone:
            objects_forget([blob], result)
            return
        # Storage is down: let cleanup finish the job as soon as it can.
        StorageObject.objects.filter(id=obj.id).update(expires_at=timezone.now())


# --- Delete one file, a run's files; owed deletes ------------------------------


# The trigger owes each deleted row's blob its delete; files.signals asks for it after commit.


@retry_on_lock_conflict
def storage_object_delete(
    *, user_id: uuid.UUID, object_id: uuid.UUID, refuse_while_run_in: Collection[str] = ()
) -> None:
    """The owner deletes one file; its blob goes after commit. NotFound if it is not theirs.

    ``refuse_while_run_in``: run statuses in which the file's run still needs
    it (the caller names them: files does not know a run's states). A file
    of such a run raises FileInUse and stays: a PENDING or PROCESSING run's
    worker reads its inputs and completes with its output. Its row is
    locked first, so an upload cannot join a run between the check and the
    delete; a run's status read after that lock cannot return from finished.
    """
    with transaction.atomic():
        if refuse_while_run_in:
            locked = list(
                StorageObject.objects.select_for_update()
                .filter(id=object_id, user_id=user_id)
                .values_list("run_id", flat=True)
            )
            if not locked:
                raise NotFound("No such file.")
            if (
                locked[0] is not None
                and StorageObject.objects.filter(id=object_id, run__status__in=list(refuse_while_run_in)).exists()
            ):
                raise FileInUse("The file belongs to a run that has not finished; wait for it, or delete the run.")
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


def storage_objects_expire_for_runs(*, run_ids: list[uuid.UUID], at: datetime) -> int:
    """Bring the expiry of runs' files forward to ``at`` (never later); how many.

    For an operator's "expire now": history expires the runs, files their
    objects, in the caller's transaction after the runs (the lock order).
    """
    return StorageObject.objects.filter(run_id__in=run_ids, expires_at__gt=at).update(expires_at=at, updated_at=at)


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


def _storage_deletions_owe(*, blobs: list[Blob]) -> None:
    """Owe blobs a delete whose rows are already gone, and ask for it now."""
    with transaction.atomic():
        StorageDeletion.objects.bulk_create(
            [StorageDeletion(provider=blob.provider, bucket=blob.bucket, key=blob.key) for blob in blobs]
        )
        storage_deletions_dispatch(keys=[blob.key for blob in blobs])


def storage_objects_attach(*, object_ids: list[uuid.UUID], run_id: uuid.UUID, expires_at: datetime) -> None:
    """Make stored uploads the inputs of a run: they now live and die with the run.

    Called inside the transaction that creates the run. An upload deleted
    since it was stored (with its user, say) raises NotFound: the caller's
    transaction, the start, is then undone.
    """
    now = timezone.now()
    # A direct upload joins only while its reservation holds: one that expired
    # meanwhile is cleanup's now, even if the pass has not come yet.
    attached = (
        StorageObject.objects.filter(id__in=object_ids, run_id__isnull=True)
        .filter(Q(awaiting_upload=False) | Q(expires_at__gt=now))
        .update(run_id=run_id, expires_at=expires_at, awaiting_upload=False, updated_at=now)
    )
    if attached != len(object_ids):
        _attach_refusal(object_ids=object_ids, now=now)


def _attach_refusal(*, object_ids: list[uuid.UUID], now: datetime) -> NoReturn:
    """Why an upload could not join the run: taken by another start, expired, or gone."""
    rows = StorageObject.objects.filter(id__in=object_ids).values_list("id", "run_id", "awaiting_upload", "expires_at")
    for object_id, run_id, awaiting, expires_at in rows:
        if run_id is not None:
            raise UploadUsed(f"The upload {object_id} has already started a run.")
        if awaiting and expires_at <= now:
            raise UploadExpired(f"The upload {object_id} has expired.")
    raise NotFound("An uploaded file was deleted before its run could start.")


def storage_objects_discard(*, user_id: uuid.UUID, objects: list[StorageObject]) -> None:
    """Delete uploads stored for a start that did not happen; owe again the blobs of rows already gone.

    A row deleted by someone else while its blob was being written may have
    had its owed delete done before the blob existed; owing it once more
    costs one row and cannot leave an orphan.
    """
    if not objects:
        return
    with transaction.atomic():
        present = set(
            StorageObject.objects.filter(id__in=[obj.id for obj in objects], user_id=user_id).values_list(
                "id", flat=True
            )
        )
        StorageObject.objects.filter(id__in=present).delete()
        gone = [Blob(obj.id, obj.key, obj.provider, obj.bucket) for obj in objects if obj.id not in present]
        if gone:
            _storage_deletions_owe(blobs=gone)


# --- Direct uploads: reserved here, sent to storage by the client, checked at the start ---

# An upload id outlives its signed target by this much, so that a file that
# finished arriving in the target's last second can still start its run.
UPLOAD_START_GRACE = timedelta(minutes=5)
# Storage checks a signed request's expiry when it begins: an upload begun in
# the target's last second may still be landing this long after (50 MB at
# 1 Mbit/s takes 7 minutes). A key is deleted once more after it.
UPLOAD_TRANSFER_MARGIN = timedelta(hours=1)


@dataclass(frozen=True)
class UploadReservation:
    object: StorageObject
    target: storage.UploadTarget


def storage_upload_reserve(
    *,
    user_id: uuid.UUID,
    name: str,
    content_type: str,
    size: int,
    tool_id: str | None = None,
    limits: PlanLimits | None = None,
) -> UploadReservation:
    """Reserve a direct upload: its bytes counted against the quota, its row, and a signed target.

    The client's declared size and type are checked against the plan and
    the tool here, and against what arrived at the start
    (``storage_uploads_check``). The row (``awaiting_upload``) is the
    reservation: it tracks the key before any byte exists, as every row
    does, and holds the bytes in the storage counter, so concurrent
    reservations cannot overbook the quota (one conditional UPDATE each).
    Unused, it expires with the target (plus UPLOAD_START_GRACE) and the
    expiry pass deletes it, its blob if one arrived, and gives the bytes back.

    Raises DirectUploadUnavailable (filesystem storage), FileNameInvalid or
    UploadInvalid (400), FileTooLarge (413), FileTypeNotAllowed (415),
    QuotaExceeded (429); nothing is kept then.
    """
    original_name = clean_file_name(name)
    backend = storage.default_backend()
    if not storage.is_s3(backend):
        raise DirectUploadUnavailable(
            "Files are stored on this server's disk here: upload them with the run (POST /api/runs with file)."
        )
    limits = limits or effective_plan(user_id=user_id).limits
    if size < 1:
        raise UploadInvalid("The file is empty.")
    if size > limits.max_file_bytes:
        raise FileTooLarge(f"The file is {size} bytes; the limit is {limits.max_file_bytes} bytes.")
    allowed = allowed_types(tool_id)
    if content_type not in allowed:
        raise FileTypeNotAllowed(f"{content_type!r} is not accepted here; accepted: {', '.join(sorted(allowed))}.")
    now = timezone.now()
    provider, bucket = storage.describe(backend)
    key = storage.build_key(user_id=user_id, entity="uploads", ext=allowed[content_type], at=now)
    lifetime = settings.DIRECT_UPLOAD_SECONDS
    # Signing is local (no request to storage): done before anything is written.
    target = storage.upload_target(
        backend=backend,
        key=key,
        content_type=content_type,
        size=size,
        expires_in=lifetime,
        method=settings.DIRECT_UPLOAD_METHOD,
    )
    obj = _storage_object_record(
        user_id=user_id,
        run_id=None,
        role=ObjectRole.INPUT,
        provider=provider,
        bucket=bucket,
        key=key,
        original_name=original_name,
        content_type=content_type,
        size=size,
        awaiting_upload=True,
        upload_writable_until=now + timedelta(seconds=lifetime) + UPLOAD_TRANSFER_MARGIN,
        storage_bytes_limit=limits.storage_bytes,
        expires_at=now + timedelta(seconds=lifetime) + UPLOAD_START_GRACE,
        now=now,
    )
    return UploadReservation(object=obj, target=target)


def storage_uploads_for_start(*, user_id: uuid.UUID, upload_ids: Sequence[uuid.UUID]) -> list[StorageObject]:
    """The caller's uploads named by a start, in its order; UploadNotFound for any that is not theirs."""
    if len(set(upload_ids)) != len(upload_ids):
        raise UploadInvalid("An upload id is listed twice.")
    found = {obj.id: obj for obj in StorageObject.objects.filter(id__in=list(upload_ids), user_id=user_id)}
    missing = [str(upload_id) for upload_id in upload_ids if upload_id not in found]
    if missing:
        raise UploadNotFound(f"No such upload: {', '.join(missing)}.")
    return [found[upload_id] for upload_id in upload_ids]


def storage_uploads_check(*, user_id: uuid.UUID, uploads: Sequence[StorageObject], tool_id: str) -> None:
    """Check that each reserved upload arrived as reserved, before a run starts on it.

    Each upload's declared type must be one ``tool_id`` takes (it was
    reserved for a tool, perhaps another): if not, FileTypeNotAllowed and
    nothing is deleted. Then per upload one ranged GET: the object exists,
    its size is the reserved size, and the type sniffed from its first bytes
    is the declared one.
    Refused (UploadUsed, UploadExpired, UploadMissing, FileTooLarge,
    UploadMismatch, FileTypeNotAllowed): an unusable upload's row is deleted
    at once, so its blob is owed a delete and its bytes come back; the
    caller's other uploads stay reserved. No transaction is held across
    the requests to storage.
    """
    now = timezone.now()
    accepted = allowed_types(tool_id)
    for obj in uploads:
        if not obj.awaiting_upload:
            raise UploadUsed(f"The upload {obj.id} has already started a run.")
        if obj.content_type not in accepted:
            # Reserved for another tool: the upload is fine, this start is not (nothing deleted).
            raise FileTypeNotAllowed(
                f"The upload {obj.id} is {obj.content_type}, which this tool does not take; "
                f"accepted: {', '.join(sorted(accepted))}."
            )
        if obj.expires_at <= now:
            _upload_refuse(user_id=user_id, obj=obj, error=UploadExpired(f"The upload {obj.id} has expired."))
        backend = storage.backend_for(obj.provider, obj.bucket)
        try:
            head = storage.read_head(backend=backend, key=obj.key, length=SNIFF_BYTES)
        except Exception as error:
            logger.warning("Reading %s failed: %s", obj.key, error)
            raise StorageUnavailable("The upload could not be checked; try again.") from error
        if head is None:
            _upload_refuse(
                user_id=user_id, obj=obj, error=UploadMissing(f"Nothing arrived in storage for the upload {obj.id}.")
            )
        if head.size > obj.size:
            _upload_refuse(
                user_id=user_id,
                obj=obj,
                error=FileTooLarge(f"The upload {obj.id} is {head.size} bytes; {obj.size} were reserved."),
            )
        if head.size != obj.size:
            _upload_refuse(
                user_id=user_id,
                obj=obj,
                error=UploadMismatch(f"The upload {obj.id} is {head.size} bytes; {obj.size} were reserved."),
            )
        sniffed = sniff_content_type(head.head)
        if sniffed != obj.content_type:
            _upload_refuse(
                user_id=user_id,
                obj=obj,
                error=FileTypeNotAllowed(
                    f"The upload {obj.id}'s content is {sniffed}; it was declared {obj.content_type}."
                ),
            )


def _upload_refuse(*, user_id: uuid.UUID, obj: StorageObject, error: Exception) -> NoReturn:
    """Delete a refused upload's row (its blob is owed a delete, its bytes released), then raise ``error``."""
    with transaction.atomic():
        StorageObject.objects.filter(id=obj.id, user_id=user_id, awaiting_upload=True).delete()
    raise error


# --- The Supabase Storage bucket and its policies --------------------------------

SUPABASE_STORAGE_MIGRATION = ("files", "0009_supabase_storage_bucket")


def storage_bucket_install(*, using: str = DEFAULT_DB_ALIAS, plans: QuerySet[Any] | None = None) -> list[str]:
    """Create the app's bucket and its per-user folder policies where Supabase's storage schema exists.

    ``sql/storage/supabase_bucket.sql`` with ``files.selectors.storage_bucket_rules()``
    as its parameters (``plans``: a migration's historical rows). Idempotent;
    nothing happens on SQLite or without ``storage.objects``. Returns the
    warnings PostgreSQL raised (a pre-existing bucket that disagrees with the
    app, a role that may not install), which are logged too.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    plans = Plan.objects.using(using).all() if plans is None else plans
    config = json.dumps(storage_bucket_rules(plans=plans).as_config())
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('versatools.storage_bucket', %s, true)", [config])
        return _execute_logging_warnings(connection, cursor, read_sql("storage/supabase_bucket"))


def storage_bucket_uninstall(*, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Drop the policies ``storage_bucket_install`` made and the buckets it created while they are empty."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    with transaction.atomic(using=using), connection.cursor() as cursor:
        return _execute_logging_warnings(connection, cursor, read_sql("storage/supabase_bucket.reverse"))


def storage_bucket_reapply(*, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Install the bucket and policies again if the storage schema exists and their migration is applied.

    After every migrate (files.apps) and every plan change (files.signals):
    Supabase's storage server may create its schema after this project
    migrated, and a plan's ``max_file_bytes`` is the bucket's limit. Nothing
    happens on SQLite, without ``storage.objects``, or below the migration
    (migrated back). True if it ran.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass('storage.objects') IS NOT NULL AND to_regclass('storage.buckets') IS NOT NULL"
            " AND EXISTS (SELECT FROM django_migrations WHERE app = %s AND name = %s)",
            list(SUPABASE_STORAGE_MIGRATION),
        )
        [[wanted]] = cursor.fetchall()
    if not wanted:
        return False
    storage_bucket_install(using=using)
    return True


def _execute_logging_warnings(connection: BaseDatabaseWrapper, cursor: CursorWrapper, sql: str) -> list[str]:
    # PostgreSQL's RAISE WARNING reaches the client as a notice, which psycopg drops unless asked.
    warnings: list[str] = []

    def on_notice(diagnostic: Any) -> None:
        if diagnostic.severity_nonlocalized == "WARNING" and diagnostic.message_primary:
            warnings.append(diagnostic.message_primary)

    raw = connection.connection
    raw.add_notice_handler(on_notice)
    try:
        cursor.execute(sql)  # no parameters: the SQL's RAISE formats use %
    finally:
        raw.remove_notice_handler(on_notice)
    for warning in warnings:
        logger.warning("%s", warning)
    return warnings
