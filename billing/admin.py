from django.contrib import admin

from billing.models import (
    AdminSettings,
    CreditBalance,
    CreditLedgerEntry,
    Plan,
    Subscription,
    SubscriptionEvent,
    UsageCounter,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Balances, ledger and counters change only through billing.services, with their ledger rows."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "key",
        "active",
        "sort_order",
        "credits",
        "runs_per_window",
        "usage_window",
        "retention_hours",
    )
    list_filter = ("active",)
    list_editable = ("active", "sort_order")
    search_fields = ("name", "key")


@admin.register(AdminSettings)
class AdminSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "updated_at")

    def has_add_permission(self, request):
        return not AdminSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("user", "plan", "status", "current_period_end")
    list_filter = ("status", "plan")
    list_select_related = ("user", "plan")
    search_fields = ("user__email",)


@admin.register(SubscriptionEvent)
class SubscriptionEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "user", "event_type", "plan_key", "status")
    list_filter = ("event_type", "status")
    list_select_related = ("user",)
    search_fields = ("user__email",)


@admin.register(CreditBalance)
class CreditBalanceAdmin(ReadOnlyAdmin):
    list_display = ("user", "credits_remaining", "updated_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)


@admin.register(CreditLedgerEntry)
class CreditLedgerAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "operation_type", "credits", "run_id", "idempotency_key")
    list_filter = ("operation_type",)
    list_select_related = ("user",)
    search_fields = ("user__email", "=run_id")
    show_full_result_count = False


@admin.register(UsageCounter)
class UsageCounterAdmin(ReadOnlyAdmin):
    list_display = ("user", "metric", "count", "window_start", "window_end")
    list_filter = ("metric",)
    list_select_related = ("user",)
    search_fields = ("user__email",)
