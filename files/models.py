from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class StorageProvider(models.TextChoices):
    FILESYSTEM = "filesystem"
    S3 = "s3"


class ObjectRole(models.TextChoices):
    INPUT = "input"
    OUTPUT = "output"


class StorageObject(models.Model):
    """A blob in object storage. Its row exists before or with the blob itself."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="storage_objects")
    run = models.ForeignKey(
        "history.History", on_delete=models.CASCADE, null=True, blank=True, related_name="storage_objects"
    )
    role = models.CharField(max_length=16, choices=ObjectRole.choices, default=ObjectRole.INPUT)
    provider = models.CharField(max_length=16, choices=StorageProvider.choices, default=StorageProvider.FILESYSTEM)
    bucket = models.CharField(max_length=255, blank=True)
    # {user_id}/{entity}/{yyyy}/{mm}/{uuid}.{ext}; never built from the client's name.
    key = models.CharField(max_length=512, unique=True)
    # The client's file name, sanitized, for display and Content-Disposition only.
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # No deleted_at (seed 001's soft delete): a delete is a hard delete with the
    # blob's delete owed in the same transaction (README "Storage and cleanup").
    expires_at = models.DateTimeField()
    # A direct upload reserved (POST /api/uploads) whose bytes the client sends
    # straight to storage: its bytes already count against the quota, and its
    # key is known, so cleanup and reconcile treat it like any other row. False
    # once a run's start has checked what arrived (size, sniffed type) and
    # attached it; a reservation never used expires and cleanup deletes it.
    awaiting_upload = models.BooleanField(default=False, db_default=False)
    # Until when a direct upload's signed target may still write the key: its
    # expiry plus UPLOAD_TRANSFER_MARGIN, since storage checks a signed
    # request's expiry when it begins, not when its last byte lands (NULL for
    # files the app wrote). A delete before then owes the key a second delete
    # at that time (sql/triggers/storage_upload_targets_deleted.sql).
    upload_writable_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "storage_objects"
        constraints = [models.CheckConstraint(condition=Q(size__gte=0), name="storage_objects_size_non_negative")]
        indexes = [
            # A user's files, newest first (GET /api/files, files.selectors.storage_objects_page),
            # and the owner policy of RLS (user_id leads).
            models.Index(fields=["user", "created_at"], name="storage_objects_user_idx"),
            # Cleanup claims objects past their expiry in (expires_at, id) order, keyset
            # paged (sql/queries/storage_objects_expired_take.sql); the operator dashboard's "expiring soon".
            models.Index(fields=["expires_at", "id"], name="storage_objects_expiry_idx"),
        ]

    def __str__(self) -> str:
        return self.key


class StorageDeletion(models.Model):
    """A blob whose StorageObject row is gone and whose delete is still owed.

    Written in the same transaction that deletes the row (a run deleted by its
    user, by an operator, or with its user), so the blob stays tracked from the
    moment its row goes until storage confirms the delete. The delete itself
    runs after commit; a rolled-back transaction takes this row with it and
    deletes nothing. Cleanup finishes whatever a crash left here.
    """

    id = models.BigAutoField(primary_key=True)
    provider = models.CharField(max_length=16, choices=StorageProvider.choices)
    bucket = models.CharField(max_length=255, blank=True)
    key = models.CharField(max_length=512)
    created_at = models.DateTimeField(auto_now_add=True)
    # Not before this time: the second delete of a key whose signed upload
    # target was still valid when its row went (NULL: due at once).
    not_before = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "storage_deletions"
        indexes = [
            # Reconcile asks "is this listed key still owed a delete?" by key.
            models.Index(fields=["key"], name="storage_deletions_key_idx"),
        ]

    def __str__(self) -> str:
        return self.key
