"""A thin layer over django-storages: object keys, batch deletes, listing.

Everything that talks to the storage backend goes through here, so services
never care whether blobs live on the local filesystem or in an S3-compatible
bucket. Two things django-storages does not offer are added: deleting up to
1,000 keys in one S3 request (``DeleteObjects``), and telling "deleted" from
"failed" per key. An object that is already gone counts as deleted: deletes
are retried after crashes, and a retry must not get stuck on its own success.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import IO, Any, cast

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.signals import setting_changed
from django.dispatch import receiver

from files.models import StorageProvider

logger = logging.getLogger(__name__)

# S3's DeleteObjects takes at most this many keys per request.
S3_DELETE_MAX_KEYS = 1000


class StorageDeleteFailed(Exception):
    """A batch delete stopped part way. ``outcome`` holds what is known to be done.

    ``transient`` tells a storage that is down or throttling (retry later)
    from one that refuses (a misconfiguration an operator must fix).
    """

    def __init__(self, message: str, *, outcome: DeleteOutcome, transient: bool) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.transient = transient


@dataclass
class DeleteOutcome:
    # Keys whose objects are gone now: removed by this call, or already absent.
    deleted: list[str] = field(default_factory=list)
    # Of those, the ones that were already absent (the filesystem can tell; S3 cannot).
    missing: int = 0
    # Keys the storage refused to delete, with its reason. Their rows must stay.
    failed: dict[str, str] = field(default_factory=dict)
    requests: int = 0


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    modified: datetime


# --- Backends --------------------------------------------------------------


def _s3_storage_class() -> type[Storage]:
    from storages.backends.s3 import S3Storage

    return cast("type[Storage]", S3Storage)


def is_s3(backend: Storage) -> bool:
    if isinstance(backend, FileSystemStorage):
        return False  # without importing boto3, which a filesystem deployment never needs
    return isinstance(backend, _s3_storage_class())


def default_backend() -> Storage:
    return storages["default"]


def describe(backend: Storage) -> tuple[str, str]:
    """(provider, bucket) to record on a StorageObject stored through ``backend``."""
    if is_s3(backend):
        return StorageProvider.S3, backend.bucket_name  # type: ignore[attr-defined]
    if isinstance(backend, FileSystemStorage):
        return StorageProvider.FILESYSTEM, ""
    raise TypeError(f"Unsupported storage backend {type(backend).__name__}.")


def backend_for(provider: str, bucket: str) -> Storage:
    """The backend holding objects recorded with (provider, bucket).

    Usually the configured default; rows written before a switch of backend
    (filesystem to S3, or another bucket) still find their blobs.
    """
    current = default_backend()
    if describe(current) == (provider, bucket):
        return current
    return _other_backend(provider, bucket)


@cache
def _other_backend(provider: str, bucket: str) -> Storage:
    current = default_backend()
    if provider == StorageProvider.FILESYSTEM:
        return FileSystemStorage(location=settings.MEDIA_ROOT)
    if provider == StorageProvider.S3:
        options = dict(settings.STORAGES["default"].get("OPTIONS", {})) if is_s3(current) else {}
        options["bucket_name"] = bucket
        return _s3_storage_class()(**options)
    raise ValueError(f"Unknown storage provider {provider!r}.")


@receiver(setting_changed)
def _forget_backends(*, setting: str, **kwargs: Any) -> None:
    if setting in ("STORAGES", "MEDIA_ROOT", "STORAGE_KEY_PREFIX"):
        _other_backend.cache_clear()


# --- Keys ------------------------------------------------------------------


def key_prefix() -> str:
    """The app's prefix ('' or 'something/'); every key starts with it."""
    prefix = settings.STORAGE_KEY_PREFIX.strip("/")
    return f"{prefix}/" if prefix else ""


def build_key(*, user_id: uuid.UUID, entity: str, ext: str, at: datetime, object_id: uuid.UUID | None = None) -> str:
    """``{user_id}/{entity}/{yyyy}/{mm}/{uuid}.{ext}``, under the app's prefix.

    Built only from values the server chose: the client's file name never
    becomes part of a path. ``object_id`` defaults to a fresh UUID (demo data
    passes a deterministic one).
    """
    at = at.astimezone(UTC)
    return f"{key_prefix()}{user_id}/{entity}/{at:%Y}/{at:%m}/{object_id or uuid.uuid4()}.{ext}"


def _s3_name(backend: Storage, key: str) -> str:
    # S3Storage may put everything under its ``location``; keys are relative to it.
    location = getattr(backend, "location", "")
    return f"{location.rstrip('/')}/{key}" if location else key


def _key_from_s3_name(backend: Storage, name: str) -> str:
    location = getattr(backend, "location", "")
    return name[len(location.rstrip("/")) + 1 :] if location else name


# --- Writes and reads ------------------------------------------------------


def write(*, backend: Storage, key: str, content: IO[bytes], content_type: str) -> None:
    """Write ``content`` at exactly ``key`` (never a renamed key)."""
    wrapped = File(content)
    wrapped.content_type = content_type  # type: ignore[attr-defined]  # S3Storage sends it as ContentType
    saved = backend.save(key, wrapped)
    if saved != key:
        # Keys carry a fresh UUID: a taken key is a bug. Do not leave the copy behind.
        backend.delete(saved)
        raise RuntimeError(f"Storage wrote {saved!r} instead of {key!r}.")


def open_for_read(*, backend: Storage, key: str) -> File[bytes]:
    return backend.open(key, "rb")


def signed_url(*, backend: Storage, key: str, expires_in: int, filename: str, content_type: str) -> str:
    """A short-lived URL that downloads the object as an attachment named ``filename``."""
    from django.utils.http import content_disposition_header

    disposition = content_disposition_header(as_attachment=True, filename=filename)
    return str(
        _signing_client(backend).generate_presigned_url(
            "get_object",
            Params={
                "Bucket": backend.bucket_name,  # type: ignore[attr-defined]
                "Key": _s3_name(backend, key),
                "ResponseContentDisposition": disposition,
                "ResponseContentType": content_type,
            },
            ExpiresIn=expires_in,
        )
    )


def _signing_client(backend: Storage) -> Any:
    """The S3 client that signs URLs for browsers: the backend's own, or one for S3_PUBLIC_ENDPOINT_URL.

    SigV4 signs the host, so a URL that browsers reach under another name
    than the app does (docker-compose: ``minio:9000`` inside) must be signed
    for that name; signing needs no request, so this client never sends one.
    """
    public = settings.S3_PUBLIC_ENDPOINT_URL
    if not public:
        return backend.connection.meta.client  # type: ignore[attr-defined]
    cached = getattr(backend, "_public_signing_client", None)
    if cached is None or cached.meta.endpoint_url != public.rstrip("/"):
        session = backend._create_session()  # type: ignore[attr-defined]
        cached = session.client(
            "s3",
            region_name=backend.region_name,  # type: ignore[attr-defined]
            endpoint_url=public,
            config=backend.client_config,  # type: ignore[attr-defined]
        )
        backend._public_signing_client = cached  # type: ignore[attr-defined]
    return cached


# --- Direct uploads --------------------------------------------------------


@dataclass(frozen=True)
class UploadTarget:
    """Where and how a client sends one file's bytes straight to the bucket.

    ``post``: an HTML-form style POST to ``url`` with ``fields`` first and
    the file last (S3 presigned POST). ``put``: the bytes as the body of a
    PUT to ``url`` with ``headers``.
    """

    method: str
    url: str
    fields: dict[str, str]
    headers: dict[str, str]


def upload_target(
    *, backend: Storage, key: str, content_type: str, size: int, expires_in: int, method: str
) -> UploadTarget:
    """A signed target for exactly ``size`` bytes of ``content_type`` at ``key``, valid ``expires_in`` seconds.

    The storage itself refuses another size or type (the POST policy's
    ``content-length-range`` and ``Content-Type`` conditions; the PUT's signed
    headers); the start checks again, since not every S3-compatible server
    enforces them.
    """
    if not is_s3(backend):
        raise TypeError("Direct uploads need an S3 bucket.")
    client = _signing_client(backend)
    name = _s3_name(backend, key)
    bucket = backend.bucket_name  # type: ignore[attr-defined]
    if method == "put":
        url = client.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket, "Key": name, "ContentType": content_type, "ContentLength": size},
            ExpiresIn=expires_in,
        )
        return UploadTarget(method="PUT", url=url, fields={}, headers={"Content-Type": content_type})
    post = client.generate_presigned_post(
        Bucket=bucket,
        Key=name,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
        ExpiresIn=expires_in,
    )
    return UploadTarget(method="POST", url=post["url"], fields=dict(post["fields"]), headers={})


@dataclass(frozen=True)
class ObjectHead:
    """An object's real size and its first bytes, from one ranged GET."""

    size: int
    head: bytes


def read_head(*, backend: Storage, key: str, length: int) -> ObjectHead | None:
    """The object's size and first ``length`` bytes, or None if there is no object at ``key``.

    One request (``Range: bytes=0-{length-1}``; the size comes from its
    Content-Range), so checking a 50 MB upload reads 8 KB of it.
    """
    if not is_s3(backend):
        raise TypeError("Direct uploads need an S3 bucket.")
    from botocore.exceptions import ClientError

    client = backend.connection.meta.client  # type: ignore[attr-defined]
    name = _s3_name(backend, key)
    try:
        response = client.get_object(
            Bucket=backend.bucket_name,  # type: ignore[attr-defined]
            Key=name,
            Range=f"bytes=0-{length - 1}",
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in {"NoSuchKey", "404"} or status == 404:
            return None
        if code == "InvalidRange" or status == 416:
            return ObjectHead(size=0, head=b"")  # an empty object: no byte 0 to read
        raise
    with contextlib.closing(response["Body"]) as body:
        # At most what was asked for, even from a server that ignores Range and sends it all.
        head = body.read(length)
    content_range = response.get("ContentRange") or ""
    total = content_range.rpartition("/")[2]  # "bytes 0-8191/5242880"
    if total.isdigit():
        size = int(total)
    elif content_range:  # "bytes 0-8191/*": the total is not said; ask for it
        size = int(client.head_object(Bucket=backend.bucket_name, Key=name)["ContentLength"])  # type: ignore[attr-defined]
    else:  # no Content-Range: the server sent the whole object, and says how long it is
        size = int(response.get("ContentLength", len(head)))
    return ObjectHead(size=size, head=head)


# --- Deletes ---------------------------------------------------------------


def delete_keys(*, backend: Storage, keys: Sequence[str]) -> DeleteOutcome:
    """Delete ``keys``; S3 in requests of up to 1,000 keys, the filesystem key by key.

    Raises StorageDeleteFailed when the storage stops answering part way; its
    ``outcome`` lists the keys confirmed deleted before that, so callers can
    forget exactly those and keep the rest for a later attempt.
    """
    if not keys:
        return DeleteOutcome()
    if is_s3(backend):
        return _s3_delete(backend, keys)
    if isinstance(backend, FileSystemStorage):
        return _filesystem_delete(backend, keys)
    raise TypeError(f"Unsupported storage backend {type(backend).__name__}.")


def _s3_delete(backend: Any, keys: Sequence[str]) -> DeleteOutcome:
    client = backend.connection.meta.client
    outcome = DeleteOutcome()
    for start in range(0, len(keys), S3_DELETE_MAX_KEYS):
        chunk = keys[start : start + S3_DELETE_MAX_KEYS]
        by_name = {_s3_name(backend, key): key for key in chunk}
        try:
            # Quiet: the answer lists only failures, not 1,000 successes.
            response = client.delete_objects(
                Bucket=backend.bucket_name,
                Delete={"Objects": [{"Key": name} for name in by_name], "Quiet": True},
            )
        except Exception as error:
            outcome.requests += 1
            raise StorageDeleteFailed(
                f"S3 DeleteObjects failed after {len(outcome.deleted)} key(s): {error}",
                outcome=outcome,
                transient=is_transient(error),
            ) from error
        outcome.requests += 1
        errors = {
            by_name.get(e["Key"], e["Key"]): f"{e.get('Code')}: {e.get('Message')}" for e in response.get("Errors", [])
        }
        for key, reason in errors.items():
            if reason.startswith("NoSuchKey"):
                continue  # already gone: deleted
            outcome.failed[key] = reason
        outcome.deleted.extend(key for key in chunk if key not in outcome.failed)
    return outcome


def _filesystem_delete(backend: FileSystemStorage, keys: Sequence[str]) -> DeleteOutcome:
    # An absent root means an unmounted volume, not a thousand deleted files:
    # counting them as gone would drop rows whose blobs come back with the mount.
    if not os.path.isdir(backend.location):
        raise StorageDeleteFailed(
            f"The storage directory {backend.location} does not exist.", outcome=DeleteOutcome(), transient=True
        )
    outcome = DeleteOutcome()
    root = backend.location
    for key in keys:
        # What backend.path() checks, without its cost per key: stay under the root.
        if key.startswith("/") or ".." in key.split("/"):
            outcome.failed[key] = "key escapes the storage directory"
            continue
        try:
            os.remove(os.path.join(root, key))
        except FileNotFoundError:
            outcome.missing += 1
        except OSError as error:
            outcome.failed[key] = f"{type(error).__name__}: {error.strerror or error}"
            continue
        outcome.deleted.append(key)
    return outcome


def is_transient(error: BaseException) -> bool:
    """Is this the kind of storage error that goes away (network, 5xx, throttling)?"""
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

    if isinstance(error, (ConnectionError, HTTPClientError, TimeoutError, OSError)):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = error.response.get("Error", {}).get("Code", "")
        return status >= 500 or status == 429 or code in {"SlowDown", "RequestTimeout", "Throttling"}
    return isinstance(error, BotoCoreError)


# --- Listing and existence (reconcile) -------------------------------------


def iter_objects(*, backend: Storage, prefix: str) -> Iterator[ListedObject]:
    """Every object whose key starts with ``prefix``, one page at a time (memory stays flat)."""
    if is_s3(backend):
        client = backend.connection.meta.client  # type: ignore[attr-defined]
        paginator = client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=backend.bucket_name, Prefix=_s3_name(backend, prefix))  # type: ignore[attr-defined]
        for page in pages:
            for item in page.get("Contents", []):
                yield ListedObject(
                    key=_key_from_s3_name(backend, item["Key"]), size=item["Size"], modified=item["LastModified"]
                )
        return
    if not isinstance(backend, FileSystemStorage):
        raise TypeError(f"Unsupported storage backend {type(backend).__name__}.")
    root = backend.location
    start = os.path.join(root, prefix) if prefix else root
    # The prefix may end in a partial file name; walk its directory and filter.
    walk_from = start if prefix.endswith("/") or not prefix else os.path.dirname(start)
    for directory, _dirs, names in os.walk(walk_from):
        for name in names:
            path = os.path.join(directory, name)
            key = os.path.relpath(path, root).replace(os.sep, "/")
            if not key.startswith(prefix):
                continue
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                continue  # deleted while we walked
            yield ListedObject(key=key, size=stat.st_size, modified=datetime.fromtimestamp(stat.st_mtime, UTC))


def existing_keys(*, backend: Storage, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` (sorted in byte order) exist in storage.

    S3: one listing of the key range the batch spans (about one request per
    1,000 keys) instead of a HEAD per key. Filesystem: a stat per key.
    """
    if not keys:
        return set()
    if isinstance(backend, FileSystemStorage):
        return {key for key in keys if os.path.isfile(backend.path(key))}
    if not is_s3(backend):
        raise TypeError(f"Unsupported storage backend {type(backend).__name__}.")
    wanted = set(keys)
    first, last = _s3_name(backend, keys[0]), _s3_name(backend, keys[-1])
    client = backend.connection.meta.client  # type: ignore[attr-defined]
    found: set[str] = set()
    # StartAfter is exclusive: start just before the first key (its prefix sorts first).
    kwargs: dict[str, Any] = {"Bucket": backend.bucket_name, "StartAfter": first[:-1]}  # type: ignore[attr-defined]
    while True:
        page = client.list_objects_v2(**kwargs)
        contents = page.get("Contents", [])
        for item in contents:
            if item["Key"] > last:
                return found
            key = _key_from_s3_name(backend, item["Key"])
            if key in wanted:
                found.add(key)
        if not page.get("IsTruncated"):
            return found
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def remove_empty_directories(*, backend: Storage, prefix: str, older_than: datetime) -> int:
    """Filesystem only: remove directories left empty by deletes. How many were removed."""
    if not isinstance(backend, FileSystemStorage):
        return 0
    root = backend.location
    start = os.path.join(root, prefix) if prefix else root
    removed = 0
    for directory, _dirs, _names in os.walk(start, topdown=False):
        if os.path.samefile(directory, root):
            continue
        try:
            if datetime.fromtimestamp(os.stat(directory).st_mtime, UTC) > older_than:
                continue  # an upload may be about to write into it
            os.rmdir(directory)
            removed += 1
        except OSError:
            continue  # not empty, or gone already
    return removed


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
