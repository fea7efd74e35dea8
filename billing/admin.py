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
from core.admin import EstimatedCountPaginator, ReadOnlyAdmin, ServiceActionsMixin
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


class SubscriptionActionForm(forms.Form):
    """What one subscription action needs: a plan (change plan, reactivate) or days (extend trial)."""

    plan = forms.ModelChoiceField(queryset=Plan.objects.all(), to_field_name="key", required=False)
    days = forms.IntegerField(min_value=1, max_value=365, required=False)


# action name -> (title, what its form asks for)
SUBSCRIPTION_ACTIONS: dict[str, tuple[str, str]] = {
    "change_plan": ("Change plan", "plan"),
    "extend_trial": ("Extend trial", "days"),
    "cancel": ("Cancel (the plan is kept until the period ends)", ""),
    "reactivate": ("Reactivate for a new period", "plan"),
}


MANAGE = ["manage_subscriptions"]


@admin.register(Subscription)
class SubscriptionAdmin(ServiceActionsMixin, ReadOnlyAdmin):
    """Read-only rows; every change is an action through billing.subscriptions, by its rules."""

    list_display = ("user", "plan", "status", "current_period_end", "scheduled_plan")
    list_filter = ("status", "plan")
    list_select_related = ("user", "plan", "scheduled_plan")
    search_fields = ("user__email", "=provider_subscription_id")
    actions = tuple(SUBSCRIPTION_ACTIONS)
    readonly_fields = ("timeline",)

    @admin.display(description="Events")
    def timeline(self, subscription: Subscription) -> str:
        """The subscription's history, newest first (its user's events: they outlive the row)."""
        from django.utils.html import format_html, format_html_join

        events = SubscriptionEvent.objects.filter(user_id=subscription.user_id).order_by("-occurred_at", "-id")[:200]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((event.occurred_at, event.event_type, event.status, event.plan_key) for event in events),
        )
        return format_html(
            "<table><thead><tr><th>when</th><th>event</th><th>status</th><th>plan</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    def has_manage_subscriptions_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_subscription")

    @admin.action(
        description="Change plan (upgrade now, downgrade at period end)", permissions=["manage_subscriptions"]
    )
    def change_plan(self, request: HttpRequest, queryset: models.QuerySet) -> HttpResponse | None:
        return self._subscription_action(request, queryset, "change_plan")

    @admin.action(description="Extend trial", permissions=MANAGE)
    def extend_trial(self, request: HttpRequest, queryset: models.QuerySet) -> HttpResponse | None:
        return self._subscription_action(request, queryset, "extend_trial")

    @admin.action(description="Cancel at period end", permissions=MANAGE)
    def cancel(self, request: HttpRequest, queryset: models.QuerySet) -> HttpResponse | None:
        return self._subscription_action(request, queryset, "cancel")

    @admin.action(description="Reactivate for a new period", permissions=MANAGE)
    def reactivate(self, request: HttpRequest, queryset: models.QuerySet) -> HttpResponse | None:
        return self._subscription_action(request, queryset, "reactivate")

    def _subscription_action(self, request: HttpRequest, queryset: models.QuerySet, action: str) -> HttpResponse | None:
        """The form first; on a valid submit one service call per subscription, each refusal said."""
        title, needs = SUBSCRIPTION_ACTIONS[action]
        user_ids = list(queryset.values_list("user_id", flat=True)[:1000])
        form = SubscriptionActionForm(request.POST if "apply" in request.POST else None)
        if needs and needs in form.fields:
            form.fields[needs].required = True
        if "apply" in request.POST and form.is_valid():
            self._apply(request, action, user_ids, form.cleaned_data)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "needs": needs,
            "subscriptions": queryset.select_related("user", "plan")[:1000],
            "selected": list(queryset.values_list("id", flat=True)[:1000]),
            "action": action,
        }
        return TemplateResponse(request, "admin/billing/subscription_action.html", context)

    def _apply(self, request: HttpRequest, action: str, user_ids: list[uuid.UUID], data: dict[str, Any]) -> None:
        from billing.exceptions import IllegalSubscriptionMove, InvalidSubscription
        from billing.subscriptions import (
            subscription_cancel,
            subscription_change_plan,
            subscription_extend_trial,
            subscription_reactivate,
        )

        actor = request.user.get_username()
        plan_key = data["plan"].key if data.get("plan") else None
        done = 0
        for user_id in user_ids:
            try:
                if action == "change_plan":
                    assert plan_key is not None
                    subscription_change_plan(user_id=user_id, plan_key=plan_key, actor=actor)
                elif action == "extend_trial":
                    subscription_extend_trial(user_id=user_id, days=data["days"], actor=actor)
                elif action == "cancel":
                    subscription_cancel(user_id=user_id, actor=actor)
                else:
                    subscription_reactivate(user_id=user_id, plan_key=plan_key, actor=actor)
            except (IllegalSubscriptionMove, InvalidSubscription) as refused:
                self.message_user(request, f"User {user_id}: {refused.message}", messages.ERROR)
                continue
            done += 1
        if done:
            self.message_user(request, f"{SUBSCRIPTION_ACTIONS[action][0]}: done for {done} subscription(s).")


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
