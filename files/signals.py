"""Keep storage in step with deletes done through the ORM.

A run deleted by its user or an operator, or a user deleted with everything
they own, deletes StorageObject rows through Django's collector; each one
owes its blob a delete (see files.services, "Delete through the ORM").
Cleanup and reconcile delete rows with plain SQL and do not come through here.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from files.models import StorageObject


@receiver(post_delete, sender=StorageObject, dispatch_uid="files.storage_object_deleted")
def _storage_object_deleted(sender: type[StorageObject], instance: StorageObject, using: str, **kwargs: Any) -> None:
    from files.services import storage_deletion_enqueue

    storage_deletion_enqueue(obj=instance, using=using)
