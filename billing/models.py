"""Credits, plans, subscriptions and usage windows."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Plan(models.Model):
    """A plan in the catalog with the limits the product enforces."""

    class Window(models.TextChoices):
        DAY = "day"
        MONTH = "month"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.SlugField(max_length=32, unique=True, help_text="Stable identifier, e.g. free, basic, pro.")
    name = models.CharField(max_length=100)
    credits = models.PositiveIntegerField(help_text="Credits granted per billing period.")
    active = models.BooleanField(default=True)
    sort_order = models.IntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    price_monthly_cents = models.PositiveIntegerField(null=True, blank=True)
    price_yearly_cents = models.PositiveIntegerField(null=True, blank=True)
    description = models.TextField(blank=True)
    features = models.JSONField(default=list, blank=True)
    badge = models.CharField(max_length=50, blank=True)
    highlight = models.BooleanField(default=False)
    cta_type = models.CharField(max_length=20, default="checkout")
    cta_label = models.CharField(max_length=100, blank=True)
    cta_url = models.URLField(blank=True)
    billing_source = models.CharField(max_length=30, default="manual")
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    # Limits. NULL runs_per_window means unlimited.
    runs_per_window = models.PositiveIntegerField(null=True, blank=True)
    usage_window = models.CharField(max_length=8, choices=Window.choices, default=Window.DAY)
    max_file_bytes = models.BigIntegerField(default=50 * 1024 * 1024)
    storage_bytes = models.BigIntegerField(default=1024 * 1024 * 1024)
    retention_hours = models.PositiveIntegerField(default=24)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "plans"
        ordering = ["sort_order", "name"]
        indexes = [
            # GET /api/plans: active plans in sort order.
            models.Index(fields=["sort_order"], name="plans_active_sort_idx", condition=Q(active=True)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(max_file_bytes__gt=0), name="plans_max_file_bytes_positive"),
            models.CheckConstraint(condition=Q(storage_bytes__gte=0), name="plans_storage_bytes_non_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class SubscriptionStatus(models.TextChoices):
    TRIAL = "trial"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    PAST_DUE = "past_due"


class Subscription(models.Model):
    """One per user."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    provider = models.CharField(max_length=30, default="manual")
    provider_subscription_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    # A downgrade waits for the period's end: the roll renews onto this plan
    # (billing.subscriptions.subscription_change_plan).
    scheduled_plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="scheduled_subscriptions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "subscriptions"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SubscriptionStatus.values), name="subscriptions_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["status"], name="subscriptions_status_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.plan_id} ({self.status})"


class SubscriptionEvent(models.Model):
    """Append-only log of every subscription change: no role may UPDATE or DELETE a row (sql/triggers/).

    It outlives its user (seed 001): ``user_id`` is kept as plain data, with
    no foreign key, so a deleted user's events stay with their id (the
    ``user`` relation then finds nobody). NULL for an event of no user.
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="subscription_events",
    )
    plan_key = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16)
    event_type = models.CharField(max_length=50)
    occurred_at = models.DateTimeField()
    metadata = models.JSONField(default=dict, blank=True)
    # The payment provider's event id (POST /api/webhooks/billing): unique, so
    # a redelivered event is recognised and changes nothing.
    provider_event_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "subscription_events"
        indexes = [models.Index(fields=["user", "-occurred_at"], name="subscription_events_user_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.user_id}"


class CreditBalance(models.Model):
    """A user's spendable credits. Only ``billing.services`` changes it, always with a ledger row."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="credit_balance"
    )
    credits_remaining = models.IntegerField(default=0)
    last_synced_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "credit_balances"
        constraints = [
            # The last line of defence: a race that slipped past the
            # conditional UPDATE still cannot overdraw.
            models.CheckConstraint(condition=Q(credits_remaining__gte=0), name="credit_balances_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.credits_remaining}"


class OperationType(models.TextChoices):
    TOOL_RUN = "tool_run", "Tool run"
    REFUND = "refund", "Refund"
    GRANT = "grant", "Grant"
    CORRECTION = "correction", "Correction"
    PLAN_CREDITS = "plan_credits", "Plan credits"


class CreditLedgerEntry(models.Model):
    """Every change of a balance.

    ``credits`` is positive for usage and negative for refunds and grants, so
    that the sum of a user's entries is what they have spent net.
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_ledger")
    operation_type = models.CharField(max_length=20, choices=OperationType.choices)
    credits = models.IntegerField()
    details = models.JSONField(default=dict, blank=True)
    # No FK: the ledger outlives the runs, which expire.
    run_id = models.UUIDField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "credit_ledger"
        verbose_name = "credit ledger entry"
        verbose_name_plural = "credit ledger"
        constraints = [
            # Makes "refund exactly once" and replayed grants a database fact.
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="credit_ledger_user_key_unique"),
            models.CheckConstraint(condition=~Q(credits=0), name="credit_ledger_credits_non_zero"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="credit_ledger_user_idx"),
            # The operator dashboard's credits per day: a range of the last 30 days.
            models.Index(fields=["created_at"], name="credit_ledger_created_idx"),
            models.Index(fields=["run_id"], name="credit_ledger_run_idx", condition=Q(run_id__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.operation_type} {self.credits} for {self.user_id}"


class UsageCounter(models.Model):
    """A metric counted in a time window; a new period is a new row."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_counters")
    metric = models.CharField(max_length=50)
    count = models.BigIntegerField(default=0)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "usage_counters"
        constraints = [
            # Also the index for the quota check (user_id, metric, window_start).
            models.UniqueConstraint(fields=["user", "metric", "window_start"], name="usage_counters_window_unique"),
            models.CheckConstraint(condition=Q(count__gte=0), name="usage_counters_count_non_negative"),
            models.CheckConstraint(condition=Q(window_end__gt=F("window_start")), name="usage_counters_window_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.metric} {self.window_start:%Y-%m-%d}: {self.count}"


class AdminSettings(models.Model):
    """Operator settings singleton: per-tool costs and switches, defaults in code."""

    SINGLETON_ID = "singleton"

    id = models.CharField(max_length=16, primary_key=True, default=SINGLETON_ID, editable=False)
    # {"pdf-merge": 3}; tools not listed cost their default from tools.registry.
    feature_costs = models.JSONField(default=dict, blank=True)
    # ["image-convert"]: tools operators have switched off.
    disabled_tools = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "admin_settings"
        verbose_name = "admin settings"
        verbose_name_plural = "admin settings"
        constraints = [models.CheckConstraint(condition=Q(id="singleton"), name="admin_settings_singleton")]

    def __str__(self) -> str:
        return "Admin settings"
