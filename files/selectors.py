"""Reads for stored files: a user's files and storage, downloads for their owner, what cleanup
would do, and the rules the Supabase Storage bucket is given."""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db.models import Max, QuerySet
from django.utils import timezone

from billing.models import Plan, UsageCounter
from billing.selectors import STORAGE_METRIC, STORAGE_WINDOW, default_limits, effective_plan
from core.cursors import cursor_decode, cursor_encode
from core.errors import NotFound
from files import storage
from files.exceptions import FileListInvalid
from files.models import StorageDeletion, StorageObject
from files.validation import allowed_types
from tools.registry import all_tools, get_tool

# Download URLs live at most this long (S3_SIGNED_URL_SECONDS may shorten it).
DEFAULT_SIGNED_URL_SECONDS = 300


@dataclass(frozen=True)
class Download:
    """How to hand a file to its owner: a signed URL (S3) or an open file to stream."""

    filename: str
    content_type: str
    size: int
    url: str | None = None
    file: File[bytes] | None = None


def storage_object_for_owner(*, user_id: uuid.UUID, object_id: uuid.UUID, now: datetime | None = None) -> StorageObject:
    """The user's own, unexpired object, else NotFound (never "forbidden": no hint it exists)."""
    now = now or timezone.now()
    obj = (
        StorageObject.objects.filter(id=object_id, user_id=user_id, expires_at__gt=now)
        .exclude(run__expires_at__lte=now)
        .first()
    )
    if obj is None:
        raise NotFound("No such file.")
    return obj


def storage_object_download(*, user_id: uuid.UUID, object_id: uuid.UUID, now: datetime | None = None) -> Download:
    """A download of the user's file: a signed URL valid until at most its expiry, or an open file."""
    now = now or timezone.now()
    obj = storage_object_for_owner(user_id=user_id, object_id=object_id, now=now)
    backend = storage.backend_for(obj.provider, obj.bucket)
    if storage.is_s3(backend):
        lifetime = getattr(backend, "querystring_expire", DEFAULT_SIGNED_URL_SECONDS)
        # A link must not outlive the file it points to.
        until_expiry = math.floor((obj.expires_at - now).total_seconds())
        url = storage.signed_url(
            backend=backend,
            key=obj.key,
            expires_in=max(1, min(lifetime, until_expiry)),
            filename=obj.original_name,
            content_type=obj.content_type,
        )
        return Download(filename=obj.original_name, content_type=obj.content_type, size=obj.size, url=url)
    try:
        file = storage.open_for_read(backend=backend, key=obj.key)
        return Download(filename=obj.original_name, content_type=obj.content_type, size=obj.size, file=file)
    except FileNotFoundError:
        raise NotFound("No such file.") from None


@dataclass(frozen=True)
class CleanupPreview:
    expired_objects: int
    expired_runs: int
    owed_deletes: int

    def summary(self) -> str:
        return (
            f"{self.expired_objects} expired object(s), {self.expired_runs} expired run(s), "
            f"{self.owed_deletes} owed delete(s)"
        )


def storage_cleanup_preview(*, expired_runs: int, now: datetime | None = None) -> CleanupPreview:
    """What a cleanup pass would take now (counts, for the dry run).

    ``expired_runs``: the caller asks history (``history.selectors.runs_expired_count``);
    files does not read another app's table.
    """
    now = now or timezone.now()
    return CleanupPreview(
        expired_objects=StorageObject.objects.filter(expires_at__lte=now).count(),
        expired_runs=expired_runs,
        owed_deletes=StorageDeletion.objects.count(),
    )


# --- A user's files (GET /api/files) ---------------------------------------------


@dataclass(frozen=True)
class ToolRef:
    id: str
    name: str


@dataclass(frozen=True)
class StoredFile:
    """One of a user's files as they see it: an input or output of a run, or an upload."""

    id: uuid.UUID
    name: str
    kind: str  # the object's role: input or output
    content_type: str
    size: int
    tool: ToolRef | None
    run_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    awaiting_upload: bool = False


@dataclass(frozen=True)
class FilePage:
    items: list[StoredFile]
    next_cursor: str | None


_FILE_COLUMNS = (
    "id",
    "original_name",
    "role",
    "content_type",
    "size",
    "run_id",
    "run__tool_id",
    "run__tool_name",
    "created_at",
    "expires_at",
    "awaiting_upload",
)


def storage_objects_page(
    *,
    user_id: uuid.UUID,
    limit: int = 20,
    cursor: str | None = None,
    kind: str | None = None,
    tool_id: str | None = None,
    now: datetime | None = None,
) -> FilePage:
    """A user's unexpired files, newest first, keyset-paginated on (created_at, id): one query.

    Served by storage_objects_user_idx (user_id, created_at); the run's tool
    comes along in the same statement (a LEFT JOIN), its display name from
    the tool registry. Expired files are not listed: they can no longer be
    downloaded, and the next cleanup pass deletes them.
    """
    now = now or timezone.now()
    objects = StorageObject.objects.filter(user_id=user_id, expires_at__gt=now)
    if kind:
        objects = objects.filter(role=kind)
    if tool_id:
        # An unknown id is a mistake to say, not "no files" (as GET /api/history does).
        if get_tool(tool_id) is None:
            known = ", ".join(tool.id for tool in all_tools())
            raise FileListInvalid(f"There is no tool {tool_id!r} to filter by; known: {known}.")
        objects = objects.filter(run__tool_id=tool_id)
    if cursor:
        created_at, object_id = cursor_decode(cursor, key=uuid.UUID, invalid=FileListInvalid)
        objects = objects.filter(created_at__lte=created_at).exclude(created_at=created_at, id__gte=object_id)
    rows = list(objects.order_by("-created_at", "-id").values(*_FILE_COLUMNS)[: limit + 1])
    items = [_stored_file(row) for row in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    next_cursor = cursor_encode(at=last.created_at, key=last.id) if last else None
    return FilePage(items=items, next_cursor=next_cursor)


def _stored_file(row: dict[str, Any]) -> StoredFile:
    tool = None
    if row["run__tool_id"]:
        spec = get_tool(row["run__tool_id"])
        # A tool since removed from the registry keeps the name its run recorded.
        tool = ToolRef(id=row["run__tool_id"], name=spec.name if spec else row["run__tool_name"])
    return StoredFile(
        id=row["id"],
        name=row["original_name"],
        kind=row["role"],
        content_type=row["content_type"],
        size=row["size"],
        tool=tool,
        run_id=row["run_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        awaiting_upload=row["awaiting_upload"],
    )


@dataclass(frozen=True)
class StorageUsage:
    used_bytes: int
    limit_bytes: int


def storage_usage(*, user_id: uuid.UUID) -> StorageUsage:
    """Bytes the user stores (their storage counter, which every store and delete moves) and their plan's limit."""
    used = (
        UsageCounter.objects.filter(user_id=user_id, metric=STORAGE_METRIC, window_start=STORAGE_WINDOW[0])
        .values_list("count", flat=True)
        .first()
    )
    return StorageUsage(used_bytes=used or 0, limit_bytes=effective_plan(user_id=user_id).limits.storage_bytes)


# --- The Supabase Storage bucket -----------------------------------------------------


@dataclass(frozen=True)
class BucketRules:
    """What the Supabase Storage bucket is set to (sql/storage/supabase_bucket.sql): the app's own rules."""

    bucket: str
    key_prefix: str
    file_size_limit: int
    allowed_mime_types: list[str]

    def as_config(self) -> dict[str, Any]:
        return asdict(self)


def storage_bucket_rules(*, plans: QuerySet[Any] | None = None) -> BucketRules:
    """The bucket's limit and types from the definitions the app validates uploads with.

    - Types: exactly what ``files.validation.check_content_type`` accepts
      (seed 004's list narrowed to what some tool takes): every stored
      object, input or output, passed it.
    - Size: the largest file the app accepts from anyone, the built-in
      default or any plan's ``max_file_bytes`` (retired plans too: their
      subscribers keep their limits), so the bucket never refuses a file the
      app has accepted; each user's own plan limit stays the app's check.
    - Folder: ``files.storage.key_prefix()``, the prefix every key starts with.

    ``plans``: the rows to read, for a migration (its historical model's).
    """
    plans = Plan.objects.all() if plans is None else plans
    largest_plan = plans.aggregate(largest=Max("max_file_bytes"))["largest"]
    return BucketRules(
        bucket=settings.SUPABASE_STORAGE_BUCKET,
        key_prefix=storage.key_prefix(),
        file_size_limit=max(default_limits().max_file_bytes, largest_plan or 0),
        allowed_mime_types=sorted(allowed_types()),
    )


EXPORT_FILE_COLUMNS = ("id", "run_id", "role", "original_name", "content_type", "size", "created_at", "expires_at")


def files_export(*, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """What the person has stored (names, types, sizes, expiry; not the bytes), for their data export: one query."""
    return list(StorageObject.objects.filter(user_id=user_id).order_by("created_at", "id").values(*EXPORT_FILE_COLUMNS))
