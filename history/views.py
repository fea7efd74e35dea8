"""The history page: all of a person's runs with filters, cursor pages, countdowns, download and delete.

The list is rendered on the server from ``history.selectors.runs_page`` (as
the caller, under row level security: ``versatools.urls``); deleting goes through the JSON API
(``DELETE /api/history/{id}``) from the page's script.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.auth import SignedInRequest
from core.errors import ServiceError
from history.models import RunStatus
from history.selectors import runs_page
from tools.registry import all_tools

HISTORY_PAGE_SIZE = 20


@require_GET
@login_required
def history_page(request: SignedInRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    tool_id = request.GET.get("tool") or None
    cursor = request.GET.get("cursor") or None
    context: dict[str, object] = {
        "statuses": RunStatus.choices,
        "tools": all_tools(),
        "status": status,
        "tool_id": tool_id,
        "runs": [],
        "next_cursor": None,
        "error": None,
    }
    if status is not None and status not in RunStatus.values:
        context["error"] = f"There is no status {status!r}; pick one from the list."
        return render(request, "hub/history.html", context, status=400)
    try:
        page = runs_page(
            user_id=request.user.pk, limit=HISTORY_PAGE_SIZE, cursor=cursor, status=status, tool_id=tool_id
        )
    except ServiceError as error:
        context["error"] = error.message
        return render(request, "hub/history.html", context, status=error.http_status)
    context.update(runs=page.runs, next_cursor=page.next_cursor, paged=cursor is not None)
    return render(request, "hub/history.html", context)
