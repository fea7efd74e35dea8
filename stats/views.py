"""The end user's Bento-grid dashboard page. Its data comes from GET /api/dashboard (the page's script)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
@login_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    # No queries here: the page is a shell, and the same API call that a
    # mobile client makes fills it (same origin, the session cookie).
    return render(request, "dashboard/index.html")
