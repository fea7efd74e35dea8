"""The plans page: the public catalog (the same rows as ``GET /api/plans``), the caller's own plan marked."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.models import Plan
from billing.selectors import effective_plan, plans_active


@require_GET
def plans_page(request: HttpRequest) -> HttpResponse:
    current = None
    if request.user.is_authenticated:
        current = effective_plan(user_id=request.user.pk).limits.plan_key
    offers = [{"plan": plan, "price": _monthly_price(plan)} for plan in plans_active()]
    return render(request, "hub/plans.html", {"offers": offers, "current": current})


def _monthly_price(plan: Plan) -> str:
    """ "USD 9.00", or "Free" for a plan without a monthly price (to the cent: 999 cents is not 10)."""
    if not plan.price_monthly_cents:
        return "Free"
    return f"{plan.currency} {plan.price_monthly_cents / 100:,.2f}".strip()
