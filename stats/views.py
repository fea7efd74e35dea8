"""The end user's Bento-grid dashboard (filled by its script from GET /api/dashboard) and the usage page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.auth import SignedInRequest
from billing.models import OperationType
from billing.selectors import ledger_page
from core.errors import ServiceError
from history.catalog import caller_limits
from stats.charts import stacked_bar_chart
from stats.selectors import runs_by_day
from tools.registry import get_tool


@require_GET
@login_required
def dashboard_page(request: SignedInRequest) -> HttpResponse:
    # No queries here: the page is a shell, and the same API call that a
    # mobile client makes fills it (same origin, the session cookie).
    return render(request, "dashboard/index.html")


USAGE_CHART_DAYS = 30
LEDGER_PAGE_SIZE = 20


@require_GET
@login_required
def usage_page(request: SignedInRequest) -> HttpResponse:
    """Runs used of the window and when it resets, the credit ledger (20 a page), storage, and 30 days of runs.

    Read as the caller under row level security, like the JSON API it mirrors
    (``/api/usage``, ``/api/ledger``).
    """
    today = timezone.now().date()
    since = today - timedelta(days=USAGE_CHART_DAYS - 1)
    days = [since + timedelta(days=i) for i in range(USAGE_CHART_DAYS)]
    cursor = request.GET.get("ledger") or None
    try:
        limits = caller_limits(user_id=request.user.pk)
        ledger = ledger_page(user_id=request.user.pk, limit=LEDGER_PAGE_SIZE, cursor=cursor)
        daily = runs_by_day(user_id=request.user.pk, since_day=since)
    except ServiceError as error:
        return render(request, "hub/usage.html", {"error": error.message}, status=error.http_status)
    series: dict[str, list[int]] = {}
    for row in daily:
        series.setdefault(row["tool_name"], [0] * USAGE_CHART_DAYS)[(row["day"] - since).days] += row["runs"]
    labels = [day.strftime("%b %-d") for day in days]
    totals = [sum(values[i] for values in series.values()) for i in range(USAGE_CHART_DAYS)]
    # The chart's accessible twin: one row per day with runs.
    table = [
        {"day": day, "by_tool": [series[name][i] for name in series], "total": totals[i]}
        for i, day in enumerate(days)
        if totals[i]
    ]
    context = {
        "limits": limits,
        "ledger": [{**entry, "label": ledger_entry_label(entry)} for entry in ledger.items],
        "ledger_next": ledger.next_cursor,
        "ledger_paged": cursor is not None,
        "chart": stacked_bar_chart(labels=labels, series=series, title="Runs per day, last 30 days, by tool"),
        "chart_tools": list(series),
        "chart_rows": table,
        "chart_total": sum(totals),
        "storage_percent": min(100, round(100 * limits.storage_used_bytes / limits.storage_bytes))
        if limits.storage_bytes
        else 0,
    }
    return render(request, "hub/usage.html", context)


def ledger_entry_label(entry: dict[str, Any]) -> str:
    """What a ledger row was, in words: the tool by name, the reason an operator or the system gave."""
    kind = OperationType(entry["operation_type"]).label
    details = entry["details"] or {}
    tool_id = details.get("tool_id")
    if tool_id:
        spec = get_tool(tool_id)
        return f"{kind}: {spec.name if spec else tool_id}"
    reason = details.get("reason")
    return f"{kind}: {reason}" if reason else kind
