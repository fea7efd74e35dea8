"""Billing in the operator admin: the catalog and tool costs are edited here, money never is.

Balances, ledger, counters and subscriptions are read-only: they change only
through ``billing.services``. Operators adjust a balance with the "adjust
credits" action (users or runs), an intermediate form that calls
``credits_adjust``, which writes the ledger row.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.models import User
from billing.exceptions import InsufficientCredits
from billing.models import (
    AdminSettings,
    CreditBalance,
    CreditLedgerEntry,
    OperationType,
    Plan,
    Subscription,
    SubscriptionEvent,
    UsageCounter,
)
from billing.services import credits_adjust

# Balances, ledger and counters change only through billing.services, with their ledger rows.
from core.admin import EstimatedCountPaginator, ReadOnlyAdmin
from tools.registry import all_tools, get_tool


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
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class AdminSettingsForm(forms.ModelForm):
    """Tool costs and switches, checked against the tool registry: a typo must not silently do nothing."""

    class Meta:
        model = AdminSettings
        fields = ("feature_costs", "disabled_tools")
        help_texts = {
            "feature_costs": 'Credits per run by tool id, e.g. {"pdf-merge": 3}. Unlisted tools cost their default.',
            "disabled_tools": 'Tool ids switched off, e.g. ["image-convert"].',
        }

    def clean_feature_costs(self) -> dict[str, int]:
        costs = self.cleaned_data["feature_costs"] or {}
        if not isinstance(costs, dict):
            raise forms.ValidationError("Costs must be an object of tool id to credits.")
        for tool_id, cost in costs.items():
            if get_tool(tool_id) is None:
                raise forms.ValidationError(f"There is no tool {tool_id!r}; known: {_known_tools()}.")
            if not isinstance(cost, int) or isinstance(cost, bool) or cost < 0:
                raise forms.ValidationError(f"The cost of {tool_id!r} must be a whole number of credits, 0 or more.")
        return costs

    def clean_disabled_tools(self) -> list[str]:
        disabled = self.cleaned_data["disabled_tools"] or []
        if not isinstance(disabled, list) or not all(isinstance(tool_id, str) for tool_id in disabled):
            raise forms.ValidationError("Disabled tools must be a list of tool ids.")
        unknown = [tool_id for tool_id in disabled if get_tool(tool_id) is None]
        if unknown:
            raise forms.ValidationError(f"Unknown tool(s) {', '.join(unknown)}; known: {_known_tools()}.")
        return sorted(set(disabled))


def _known_tools() -> str:
    return ", ".join(tool.id for tool in all_tools())


@admin.register(AdminSettings)
class AdminSettingsAdmin(admin.ModelAdmin):
    form = AdminSettingsForm
    list_display = ("__str__", "updated_at")
    readonly_fields = ("created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The permission first (a view-only operator adds nothing), then the
        # singleton rule: a second row would never be read.
        return super().has_add_permission(request) and not AdminSettings.objects.exists()

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
    list_display = ("occurred_at", "subscriber", "event_type", "plan_key", "status")
    list_filter = ("event_type", "status")
    list_select_related = ("user",)
    search_fields = ("user__email", "=user_id", "=provider_event_id")

    @admin.display(description="user", ordering="user__email")
    def subscriber(self, event: SubscriptionEvent) -> str:
        # Events outlive their user: the id stays when the user is gone.
        if event.user is not None:
            return str(event.user)
        return f"deleted user {event.user_id}" if event.user_id else "-"


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
    paginator = EstimatedCountPaginator  # the ledger only grows


@admin.register(UsageCounter)
class UsageCounterAdmin(ReadOnlyAdmin):
    list_display = ("user", "metric", "count", "window_start", "window_end")
    list_filter = ("metric",)
    list_select_related = ("user",)
    search_fields = ("user__email",)


# --- "Adjust credits": an intermediate form shared by the users and runs lists --------


class AdjustCreditsForm(forms.Form):
    ADJUSTMENTS = (
        (OperationType.GRANT, "Grant (adds credits)"),
        (OperationType.CORRECTION, "Correction (either sign)"),
    )

    delta = forms.IntegerField(help_text="Credits to add (negative to take away, corrections only).")
    operation_type = forms.ChoiceField(choices=ADJUSTMENTS, initial=OperationType.GRANT)
    reason = forms.CharField(max_length=200, help_text="Written to the ledger with your email.")
    # Makes a double submit of the same form one adjustment (the ledger's unique key).
    nonce = forms.UUIDField(widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        delta = data.get("delta")
        if delta == 0:
            self.add_error("delta", "An adjustment must change the balance.")
        if delta is not None and delta < 0 and data.get("operation_type") == OperationType.GRANT:
            self.add_error("delta", "A grant adds credits; use a correction to take them away.")
        return data


def adjust_credits_response(
    modeladmin: admin.ModelAdmin, request: HttpRequest, *, user_ids: list[uuid.UUID], selected: list[Any]
) -> HttpResponse | None:
    """Show the form for these users; on a valid submit, one ``credits_adjust`` (and ledger row) per user."""
    if "apply" in request.POST:
        form = AdjustCreditsForm(request.POST)
        if form.is_valid():
            _adjust(modeladmin, request, user_ids=user_ids, data=form.cleaned_data)
            return None  # back to the list, with the messages
    else:
        form = AdjustCreditsForm(initial={"nonce": uuid.uuid4()})
    users = list(
        User.objects.filter(id__in=user_ids)
        .select_related("credit_balance")
        .only("id", "email", "credit_balance__credits_remaining")
    )
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": "Adjust credits",
        "form": form,
        "users": users,
        "selected": selected,
        "action": request.POST.get("action", "adjust_credits"),
    }
    return TemplateResponse(request, "admin/billing/adjust_credits.html", context)


def _adjust(modeladmin: admin.ModelAdmin, request: HttpRequest, *, user_ids: list[uuid.UUID], data: dict) -> None:
    actor = request.user.get_username()
    done = 0
    for user_id in user_ids:
        try:
            credits_adjust(
                user_id=user_id,
                delta=data["delta"],
                reason=data["reason"],
                idempotency_key=f"admin-adjust:{data['nonce']}:{user_id}",
                operation_type=data["operation_type"],
                actor=actor,
            )
        except InsufficientCredits as exc:
            modeladmin.message_user(request, f"User {user_id}: {exc}", messages.ERROR)
            continue
        done += 1
    if done:
        modeladmin.message_user(request, f"Adjusted the credits of {done} user(s) by {data['delta']:+d}.")
