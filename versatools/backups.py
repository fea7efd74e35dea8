"""Database backups on a schedule (seed 002): ``scripts/backup.sh``'s dump, kept in BACKUP_STORAGE, pruned.

The beat task ``versatools.tasks.backup_database`` (daily) and ``manage.py
backup_database`` call ``backup_run``: one ``pg_dump`` through the direct URL
(``scripts/backup.sh``, a consistent snapshot), stored as
``versatools-<UTC time>.dump`` in BACKUP_STORAGE (``s3://bucket/prefix``,
with the app's S3 settings, or a folder), then every copy older than
BACKUP_RETENTION_DAYS is deleted, the newest one never. ``manage.py
restore_latest_backup URL`` restores the newest into a new, empty database
(``scripts/restore.sh``). Only names of this shape are ever listed or
deleted, so a shared bucket or folder keeps its other files.
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage
from django.utils import timezone

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
NAME_FORMAT = "versatools-%Y%m%dT%H%M%SZ.dump"
_NAME = re.compile(r"^versatools-(\d{8}T\d{6}Z)\.dump$")


class BackupFailed(Exception):
    """pg_dump or pg_restore said no; the message is theirs (one readable line for the command)."""


@dataclass
class BackupResult:
    name: str = ""
    size: int = 0
    pruned: list[str] = field(default_factory=list)
    skipped: str = ""


def backup_storage() -> Storage:
    """The storage backups go to, from BACKUP_STORAGE: ``s3://bucket/prefix`` or a folder."""
    target = settings.BACKUP_STORAGE
    if not target:
        raise ImproperlyConfigured("BACKUP_STORAGE is not set: say s3://bucket/prefix or a folder.")
    if target.startswith("s3://"):
        from storages.backends.s3 import S3Storage

        from files import storage as app_storage

        parts = urlsplit(target)
        location = parts.path.strip("/")
        prefix = settings.STORAGE_KEY_PREFIX
        app_backend = app_storage.default_backend()
        app_bucket = app_storage.describe(app_backend)[1] if app_storage.is_s3(app_backend) else None
        if parts.netloc == app_bucket and (not prefix or f"{location}/".startswith(f"{prefix}/")):
            # Reconcile lists the app's bucket under STORAGE_KEY_PREFIX and deletes what has no row.
            raise ImproperlyConfigured(
                "BACKUP_STORAGE is inside the app's own files (S3_BUCKET under STORAGE_KEY_PREFIX), where "
                "reconcile would delete the backups as orphans: use another bucket, or a folder outside the prefix."
            )
        # The app's S3 endpoint and credentials, where the app stores on S3.
        options = dict(settings.STORAGES["default"].get("OPTIONS", {})) if app_bucket else {}
        options.update(bucket_name=parts.netloc, location=location, file_overwrite=False)
        options.pop("querystring_expire", None)
        return S3Storage(**options)
    return FileSystemStorage(location=target)


def backups_list(storage: Storage) -> list[tuple[datetime, str]]:
    """The backups in ``storage``, oldest first, by the time in their names (never another file)."""
    try:
        _, names = storage.listdir("")
    except FileNotFoundError:  # a folder nothing was backed up to yet
        return []
    found = []
    for name in names:
        match = _NAME.match(name)
        if match:
            found.append((datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC), name))
    return sorted(found)


def backup_run(*, now: datetime | None = None) -> BackupResult:
    """Dump the database to BACKUP_STORAGE and prune what is past BACKUP_RETENTION_DAYS."""
    if not settings.BACKUP_STORAGE:
        return BackupResult(skipped="BACKUP_STORAGE is not set")
    now = (now or timezone.now()).astimezone(UTC)
    storage = backup_storage()
    name = now.strftime(NAME_FORMAT)
    with tempfile.TemporaryDirectory(prefix="versatools-backup-") as work:
        dump = Path(work) / name
        url = _database_url()
        _script("backup.sh", url, str(dump), *_dump_options(url))
        size = dump.stat().st_size
        with dump.open("rb") as content:
            saved = storage.save(name, File(content))
    if saved != name:
        raise BackupFailed(f"The storage kept the backup as {saved!r}, not {name!r}.")
    result = BackupResult(name=name, size=size)
    result.pruned = backups_prune(storage=storage, now=now)
    logger.info("Database backed up to %s (%d bytes); pruned %d old copies", name, size, len(result.pruned))
    return result


def backups_prune(*, storage: Storage, now: datetime) -> list[str]:
    """Delete backups older than BACKUP_RETENTION_DAYS; the newest stays whatever its age."""
    cutoff = now - timedelta(days=settings.BACKUP_RETENTION_DAYS)
    listed = backups_list(storage)
    doomed = [name for at, name in listed[:-1] if at < cutoff]
    for name in doomed:
        storage.delete(name)
    return doomed


def backup_restore_latest(*, database_url: str) -> str:
    """Restore the newest backup into ``database_url`` (a new, empty database); its name."""
    storage = backup_storage()
    listed = backups_list(storage)
    if not listed:
        raise BackupFailed(f"There is no backup in {settings.BACKUP_STORAGE}.")
    _, name = listed[-1]
    with tempfile.TemporaryDirectory(prefix="versatools-restore-") as work:
        dump = Path(work) / name
        with storage.open(name, "rb") as source, dump.open("wb") as copy:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                copy.write(chunk)
        _script("restore.sh", str(dump), database_url)
    return name


def _database_url() -> str:
    url = settings.BACKUP_DATABASE_URL
    if not url.startswith(("postgres://", "postgresql://")):
        raise BackupFailed("Backups need PostgreSQL: set DIRECT_URL (or BACKUP_DATABASE_URL) to its direct URL.")
    if "pgbouncer=true" in url:  # pg_dump needs a session (scripts/backup.sh refuses it too)
        raise BackupFailed("Back up through the direct URL (DIRECT_URL or BACKUP_DATABASE_URL), not the pooler.")
    return url


def _dump_options(url: str) -> list[str]:
    """On Supabase (its auth.users exists) only public is ours: auth and storage come back with the project.

    Asked of the database being dumped, through the same URL.
    """
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            [supabase] = conn.execute("SELECT to_regclass('auth.users') IS NOT NULL").fetchone() or [False]
    except psycopg.Error as error:
        raise BackupFailed(f"Cannot reach the database to back up: {str(error).strip().splitlines()[0]}") from None
    return ["--schema", "public"] if supabase else []


def _script(name: str, *args: str) -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / name), *args], capture_output=True, text=True, timeout=3600, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise BackupFailed(f"scripts/{name} failed: {last}")
