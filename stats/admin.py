from django.contrib import admin

# Statistics change only through stats.services, in the run's own transaction.
from core.admin import ReadOnlyAdmin
from stats.models import DailyToolUsage, ToolStatistics, UserDailyUsage, UserStats


@admin.register(ToolStatistics)
class ToolStatisticsAdmin(ReadOnlyAdmin):
    list_display = ("tool_id", "runs", "completed", "failed", "bytes_in", "bytes_out", "last_used_at")


@admin.register(DailyToolUsage)
class DailyToolUsageAdmin(ReadOnlyAdmin):
    list_display = ("day", "tool_id", "runs", "completed", "failed")
    list_filter = ("tool_id",)
    date_hierarchy = "day"


@admin.register(UserStats)
class UserStatsAdmin(ReadOnlyAdmin):
    list_display = ("user", "total_used", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)


@admin.register(UserDailyUsage)
class UserDailyUsageAdmin(ReadOnlyAdmin):
    list_display = ("user", "day", "tool_id", "runs")
    list_select_related = ("user",)
    search_fields = ("user__email",)
