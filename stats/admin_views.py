"""The operator dashboard: a page of the admin (its base template, staff only), charts as inline SVG."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse

from stats import charts
from stats.operator_selectors import (
    OPERATOR_DAYS,
    credits_per_day,
    expiring_soon,
    runs_per_day_per_tool,
    status_mix_per_tool,
    storage_per_tool,
    subscriptions_per_plan_and_status,
    top_users,
)


def operator_dashboard(request: HttpRequest) -> TemplateResponse:
    """Reached through ``admin.site.admin_view`` (active staff only); needs the statistics view permission."""
    if not request.user.has_perm("stats.view_toolstatistics"):
        raise PermissionDenied
    daily = runs_per_day_per_tool()
    mix = status_mix_per_tool()
    storage = storage_per_tool()
    top = top_users()
    context = {
        **admin.site.each_context(request),
        "title": "Operator dashboard",
        "days": OPERATOR_DAYS,
        "runs_chart": charts.stacked_bar_chart(
            labels=[day.strftime("%b %d") for day in daily.days],
            series=daily.by_tool,
            title=f"Runs per day per tool, last {OPERATOR_DAYS} days",
        ),
        "runs_total": sum(sum(values) for values in daily.by_tool.values()),
        "mix": mix,
        "mix_chart": charts.status_mix_chart(
            rows=[
                (row.tool_id, {"completed": row.completed, "failed": row.failed, "in progress": row.in_progress})
                for row in mix
            ],
            title="Status mix and failure rate per tool",
        ),
        "storage": storage,
        "storage_chart": charts.horizontal_bar_chart(
            rows=[(row.tool_id, row.bytes) for row in storage],
            title="Storage in use per tool",
            value_format=lambda value: str(filesizeformat(value)),
        ),
        "expiring": expiring_soon(),
        "credits": credits_per_day(),
        "subscriptions": subscriptions_per_plan_and_status(),
        "top_users": top,
        "top_users_chart": charts.horizontal_bar_chart(
            rows=[(row.email, row.total_used) for row in top],
            title="Top users by runs",
            colour=charts.PALETTE[2],
            width=620,
            label_width=260,
        ),
    }
    return TemplateResponse(request, "admin/operator_dashboard.html", context)
