from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse

from accounts.models import User
from accounts.services import email_mark_verified
from billing.admin import adjust_credits_response
from billing.models import CreditBalance, Subscription
from billing.selectors import effective_plan
from core.admin import ReadOnlyAdmin, ServiceActionsMixin
from history.models import History

NEWEST_RUNS = 10


class ReadOnlyInline(admin.StackedInline):
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SubscriptionInline(ReadOnlyInline):
    model = Subscription
    fields = ("plan", "status", "provider", "current_period_start", "current_period_end", "trial_ends_at")
    readonly_fields = fields


class CreditBalanceInline(ReadOnlyInline):
    model = CreditBalance
    verbose_name_plural = "credit balance (change it with the “Adjust credits” action)"
    fields = ("credits_remaining", "updated_at")
    readonly_fields = fields


class NewestRunsFormSet(BaseInlineFormSet):
    def get_queryset(self) -> models.QuerySet:
        # A user may have a million runs: only the newest few, through history_user_newest_idx.
        return super().get_queryset().order_by("-created_at", "-id")[:NEWEST_RUNS]


class NewestRunsInline(ReadOnlyInline, admin.TabularInline):
    model = History
    formset = NewestRunsFormSet
    verbose_name_plural = f"newest {NEWEST_RUNS} runs (all of them: History, searched by email)"
    fields = ("tool_id", "status", "input_file_name", "bytes_in", "created_at", "expires_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(User)
class UserAdmin(ServiceActionsMixin, DjangoUserAdmin):
    ordering = ("-created_at",)
    list_display = ("email", "name", "plan", "credits", "is_active", "is_staff", "created_at")
    list_filter = ("is_active", "is_staff", "groups")
    search_fields = ("email", "name")
    list_select_related = ("credit_balance", "subscription__plan")
    readonly_fields = ("id", "created_at", "updated_at", "last_login", "effective_plan")
    fieldsets = (
        (None, {"fields": ("id", "email", "password")}),
        ("Plan", {"fields": ("effective_plan",)}),
        ("Profile", {"fields": ("name", "image")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = (SubscriptionInline, CreditBalanceInline, NewestRunsInline)
    actions = ("adjust_credits",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_inlines(self, request: HttpRequest, obj: Any) -> tuple:
        return self.inlines if obj is not None else ()

    @admin.display(description="plan", ordering="subscription__plan__name")
    def plan(self, user: User) -> str:
        subscription = getattr(user, "subscription", None)
        return f"{subscription.plan.name} ({subscription.status})" if subscription else "—"

    @admin.display(description="plan in force")
    def effective_plan(self, user: User) -> str:
        # The limits enforced on the user now (billing.selectors.effective_plan,
        # the one rule): a cancelled Pro subscription shows Free here. One
        # query for one user's page; the list shows the subscription as it is.
        if user.pk is None:
            return "—"
        plan = effective_plan(user_id=user.pk)
        return f"{plan.name} ({plan.limits.plan_key})"

    @admin.display(description="credits", ordering="credit_balance__credits_remaining")
    def credits(self, user: User) -> int | None:
        balance = getattr(user, "credit_balance", None)
        return balance.credits_remaining if balance else None

    @admin.action(description="Adjust credits", permissions=["adjust_credits"])
    def adjust_credits(self, request: HttpRequest, queryset: models.QuerySet) -> HttpResponse | None:
        user_ids = list(queryset.values_list("id", flat=True)[:1000])
        return adjust_credits_response(self, request, user_ids=user_ids, selected=user_ids)

    def has_adjust_credits_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_creditbalance")


# django-allauth's own admin pages, replaced (allauth is installed before
# accounts, so they are registered by now): its "mark verified" action wrote
# the rows itself and was offered to view-only operators. OAuth clients come
# from settings and provider tokens are not stored: no pages for either.
for _model in (EmailAddress, SocialAccount, SocialApp, SocialToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(EmailAddress)
class EmailAddressAdmin(ServiceActionsMixin, ReadOnlyAdmin):
    list_display = ("email", "user", "primary", "verified")
    list_filter = ("verified", "primary")
    list_select_related = ("user",)
    search_fields = ("email", "user__email")
    actions = ("mark_verified",)

    @admin.action(description="Mark the user's address verified", permissions=["mark_verified"])
    def mark_verified(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        # Only a user's current address (users.email) counts for the run rule; others are left alone.
        marked: list[str] = []
        skipped: list[str] = []
        for address in queryset.select_related("user")[:1000]:
            current = address.email.lower() == address.user.email.lower()
            done = current and email_mark_verified(user_id=address.user_id, email=address.user.email)
            (marked if done else skipped).append(address.email)
        if marked:
            self.message_user(request, f"{len(marked)} address(es) marked verified.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"Left alone (not the user's current address, or verified on another account): {', '.join(skipped)}",
                messages.WARNING,
            )

    def has_mark_verified_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("account.change_emailaddress")


@admin.register(SocialAccount)
class SocialAccountAdmin(ReadOnlyAdmin):
    list_display = ("user", "provider", "uid", "last_login", "date_joined")
    list_filter = ("provider",)
    list_select_related = ("user",)
    search_fields = ("=uid", "user__email")
