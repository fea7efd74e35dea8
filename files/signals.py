"""Ask for a blob's delete as soon as a delete through the ORM commits; keep the bucket's limit in step with the plans.

The delete is owed by the database itself (the storage_objects_deleted
trigger writes a StorageDeletion row in the deleting transaction, whoever
deletes); this receiver only makes it prompt for the deletes Django sees: a
run or file deleted by its user or an operator, a user deleted with
everything they own. Deletes Django does not see (an FK cascade inside the
database, raw SQL, the Data API) are finished by the next cleanup pass.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing.models import Plan
from files.models import StorageObject


@receiver(post_delete, sender=StorageObject, dispatch_uid="files.storage_object_deleted")
def _storage_object_deleted(sender: type[StorageObject], instance: StorageObject, using: str, **kwargs: Any) -> None:
    from files.services import storage_deletions_dispatch

    storage_deletions_dispatch(keys=[instance.key], using=using)


@receiver([post_save, post_delete], sender=Plan, dispatch_uid="files.plan_changed")
def _plan_changed(sender: type[Plan], using: str, **kwargs: Any) -> None:
    # The Supabase bucket's file_size_limit is the largest plan's max_file_bytes
    # (files.selectors.storage_bucket_rules): after commit, so that it reads the
    # plans as saved, and robust: a storage schema that refuses must not undo
    # an operator's plan edit. Without Supabase's storage schema, one query.
    from files.services import storage_bucket_reapply

    transaction.on_commit(lambda: storage_bucket_reapply(using=using), using=using, robust=True)
