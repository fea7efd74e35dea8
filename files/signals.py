"""Ask for a blob's delete as soon as a delete through the ORM commits.

The delete is owed by the database itself (the storage_objects_deleted
trigger writes a StorageDeletion row in the deleting transaction, whoever
deletes); this receiver only makes it prompt for the deletes Django sees: a
run or file deleted by its user or an operator, a user deleted with
everything they own. Deletes Django does not see (an FK cascade inside the
database, raw SQL, the Data API) are finished by the next cleanup pass.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from files.models import StorageObject


@receiver(post_delete, sender=StorageObject, dispatch_uid="files.storage_object_deleted")
def _storage_object_deleted(sender: type[StorageObject], instance: StorageObject, using: str, **kwargs: Any) -> None:
    from files.services import storage_deletions_dispatch

    storage_deletions_dispatch(keys=[instance.key], using=using)
