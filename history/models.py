from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def default_expires_at() -> datetime:
    return timezone.now() + timedelta(hours=settings.RUN_RETENTION_HOURS)


class RunStatus(models.TextChoices):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


UNFINISHED_STATUSES = (RunStatus.PENDING, RunStatus.PROCESSING)
FINISHED_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED)


class History(models.Model):
    """One tool run. Expires with its files; statistics outlive it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column index: history_user_newest_idx leads with user_id and
    # serves every lookup by user (the RLS policy included); one index fewer
    # to maintain on the hottest insert.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs", db_index=False)
    tool_id = models.CharField(max_length=64)
    tool_name = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    input_file_name = models.CharField(max_length=255)
    output_file_name = models.CharField(max_length=255, blank=True)
    # Object key of the output in storage; URLs are signed on demand, never stored.
    file_key = models.CharField(max_length=512, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    error_message = models.TextField(blank=True)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)
    credits_charged = models.PositiveIntegerField(default=0)
    # A client's retry of the same start carries the same key and gets this run back.
    idempotency_key = models.CharField(max_length=255)
    # Hash of what the key was first used for, to tell a replay from a reuse.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(default=default_expires_at)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "history"
        verbose_name = "run"
        verbose_name_plural = "history"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values),
                name="history_status_valid",
            ),
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="history_user_idempotency_key_unique"),
            models.CheckConstraint(
                condition=Q(bytes_in__gte=0) & Q(bytes_out__gte=0), name="history_bytes_non_negative"
            ),
        ]
        indexes = [
            # A user's newest runs first, and cursor pagination on (created_at, id).
            models.Index(fields=["user", "-created_at", "-id"], name="history_user_newest_idx"),
            # The operator admin's list (newest first, any filter) and its date hierarchy's MIN/MAX.
            models.Index(fields=["-created_at", "-id"], name="history_created_idx"),
            # Cleanup: rows whose expires_at has passed.
            models.Index(fields=["expires_at"], name="history_expires_at_idx"),
            # Stuck-run reaper and "in progress" tiles: only unfinished runs, a small slice.
            models.Index(
                fields=["status", "started_at"],
                name="history_unfinished_idx",
                condition=Q(status__in=UNFINISHED_STATUSES),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tool_id} {self.status} ({self.id})"

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.COMPLETED, RunStatus.FAILED)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
