from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class FilesConfig(AppConfig):
    name = "files"
    verbose_name = "Stored files"

    def ready(self) -> None:
        from files import signals  # noqa: F401  (connects the post_delete and plan receivers)

        post_migrate.connect(_reapply_supabase_storage, dispatch_uid="files.supabase_storage_reapply")


def _reapply_supabase_storage(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # Once per migrate (the signal is sent per app): Supabase's storage server
    # may have created its schema since this project's own migration ran.
    if sender.label != "files":
        return
    from files.services import storage_bucket_reapply

    storage_bucket_reapply(using=using)
