"""Reads for stored files: downloads for their owner, what cleanup would do."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.files import File
from django.utils import timezone

from core.errors import NotFound
from files import storage
from files.models import StorageDeletion, StorageObject

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
        StorageObject.objects.filter(id=object_id, user_id=user_id, deleted_at__isnull=True, expires_at__gt=now)
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
        expired_objects=StorageObject.objects.filter(deleted_at__isnull=True, expires_at__lte=now).count(),
        expired_runs=expired_runs,
        owed_deletes=StorageDeletion.objects.count(),
    )
