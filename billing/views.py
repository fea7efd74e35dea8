"""The plans page: the public catalog (the same rows as ``GET /api/plans``), the caller's own plan marked."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.selectors import effective_plan, plans_active


@require_GET
def plans_page(request: HttpRequest) -> HttpResponse:
    current = None
    if request.user.is_authenticated:
        current = effective_plan(user_id=request.user.pk).limits.plan_key
    return render(request, "hub/plans.html", {"plans": plans_active(), "current": current})
