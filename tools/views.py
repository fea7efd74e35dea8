"""The tool hub's pages: the grid of tool cards (the home page) and one tool's run page.

Thin: the catalog and the caller's limits come from ``history.catalog``; the
run page's script does the rest through the JSON API (``static/hub/tool.js``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.auth import SignedInRequest
from history.catalog import CatalogTool, caller_limits, tool_enabled, tools_enabled, upload_method


@require_GET
def hub_page(request: HttpRequest) -> HttpResponse:
    """Every tool a person can run, grouped by section; visitors see the same cards and a way to sign up."""
    # Sections in the order their first tool comes in the catalog's order (sort_order, name).
    sections: dict[str, list[CatalogTool]] = {}
    for tool in tools_enabled():
        sections.setdefault(tool.workspace or "Tools", []).append(tool)
    limits = None
    if request.user.is_authenticated:
        limits = caller_limits(user_id=request.user.pk)
    return render(request, "hub/index.html", {"sections": list(sections.items()), "limits": limits})


@require_GET
@login_required
def tool_page(request: SignedInRequest, tool_id: str) -> HttpResponse:
    """One tool: drop files, run, watch, download. The page's script talks to the JSON API."""
    tool = tool_enabled(tool_id=tool_id)
    if tool is None:
        raise Http404("No such tool, or it is switched off.")
    limits = caller_limits(user_id=request.user.pk)
    config = {
        "tool": tool.__dict__,
        "limits": {**limits.__dict__, "window_resets_at": limits.window_resets_at.isoformat()},
        "upload": upload_method(),
    }
    return render(request, "hub/tool.html", {"tool": tool, "limits": limits, "config": config})
