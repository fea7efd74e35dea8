from django.contrib import admin

from history.models import History


@admin.register(History)
class HistoryAdmin(admin.ModelAdmin):
    list_display = ("id", "tool_id", "user", "status", "bytes_in", "created_at", "expires_at")
    list_filter = ("status", "tool_id")
    search_fields = ("=id", "user__email", "input_file_name")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in History._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):  # runs start through history.services only
        return False
