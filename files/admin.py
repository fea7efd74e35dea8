"""Stored files in the operator admin: read-only; uploads, deletes and cleanup go through files.services."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from core.admin import EstimatedCountPaginator, ReadOnlyAdmin
from files.models import StorageDeletion, StorageObject


@admin.register(StorageObject)
class StorageObjectAdmin(ReadOnlyAdmin):
    list_display = ("key", "user", "role", "run_tool", "human_size", "created_at", "expires_at")
    list_filter = ("role", "provider")
    list_select_related = ("user", "run")
    search_fields = ("=id", "=run__id", "user__email", "original_name")
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description="tool", ordering="run__tool_id")
    def run_tool(self, obj: StorageObject) -> str:
        return obj.run.tool_id if obj.run else "—"

    @admin.display(description="size", ordering="size")
    def human_size(self, obj: StorageObject) -> str:
        return filesizeformat(obj.size)


@admin.register(StorageDeletion)
class StorageDeletionAdmin(ReadOnlyAdmin):
    list_display = ("key", "provider", "bucket", "created_at")
    search_fields = ("key",)
