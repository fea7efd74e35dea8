"""Usage statistics: per user, per tool, per day; counters that outlive the runs they count.

Counters are updated by atomic SQL in the same transaction as the run's
state change, never recomputed from ``history``: history rows expire and are
deleted, statistics stay.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class UserStats(models.Model):
    """One row per user: total runs started and a per-tool breakdown."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="stats"
    )
    total_used = models.BigIntegerField(default=0)
    # {"pdf-merge": 10, "image-compress": 2}
    tools_breakdown = models.JSONField(default=dict, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "user_stats"
        verbose_name = "user statistics"
        verbose_name_plural = "user statistics"
        constraints = [models.CheckConstraint(condition=Q(total_used__gte=0), name="user_stats_total_non_negative")]

    def __str__(self) -> str:
        return f"stats of {self.user_id}"


class ToolStatistics(models.Model):
    """Global counters per tool, across all users."""

    tool_id = models.CharField(max_length=64, primary_key=True)
    runs = models.BigIntegerField(default=0)
    completed = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tool_statistics"
        verbose_name = "tool statistics"
        verbose_name_plural = "tool statistics"

    def __str__(self) -> str:
        return self.tool_id


class ToolUsageEvent(models.Model):
    """One run's change to the global per-tool counters, not yet added to them (insert-only).

    Every run of a tool would otherwise update the same ``tool_statistics`` and
    ``daily_tool_usage`` rows, so runs of a popular tool would queue on those
    row locks, each holding them through its own commit's WAL flush. Instead
    the run's transaction inserts one of these (no lock anyone else needs),
    and ``stats_tool_events_roll`` (a beat task every few seconds) moves them
    into the two tables in one statement. Reads add the rows not yet rolled
    up (``stats.selectors``), so the figures are exact at any moment.
    """

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()
    tool_id = models.CharField(max_length=64)
    runs = models.IntegerField(default=0)
    completed = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tool_usage_events"

    def __str__(self) -> str:
        return f"{self.day} {self.tool_id} +{self.runs}"


class DailyToolUsage(models.Model):
    """Global counters per day per tool, for the last-N-days analytics."""

    day = models.DateField()
    tool_id = models.CharField(max_length=64)
    runs = models.BigIntegerField(default=0)
    completed = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)

    class Meta:
        db_table = "daily_tool_usage"
        verbose_name_plural = "daily tool usage"
        constraints = [models.UniqueConstraint(fields=["day", "tool_id"], name="daily_tool_usage_day_tool_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.tool_id}"


class UserDailyUsage(models.Model):
    """Per user per day per tool, for the dashboard's last-30-days series."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="daily_usage")
    day = models.DateField()
    tool_id = models.CharField(max_length=64)
    runs = models.BigIntegerField(default=0)
    completed = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)

    class Meta:
        db_table = "user_daily_usage"
        verbose_name_plural = "user daily usage"
        constraints = [
            # Also the index for "this user's last 30 days" (leading user_id, day).
            models.UniqueConstraint(fields=["user", "day", "tool_id"], name="user_daily_usage_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day} {self.tool_id}"
