"""JSON endpoint for the plan catalog."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from billing.selectors import plans_active
from core.schemas import with_errors

router = Router(tags=["plans"])


class PlanCatalogOut(Schema):
    key: str
    name: str
    description: str
    credits: int
    currency: str
    price_monthly_cents: int | None
    price_yearly_cents: int | None
    features: list[Any]
    badge: str
    highlight: bool
    cta_type: str
    cta_label: str
    cta_url: str
    runs_per_window: int | None
    usage_window: str
    max_file_bytes: int
    storage_bytes: int
    retention_hours: int


@router.get("/plans", response=with_errors({200: list[PlanCatalogOut]}), auth=None)
def plans(request: HttpRequest) -> list[Any]:
    """Public: the pricing page shows the catalog to visitors too."""
    # No auth: read as anon (versatools.rls), who sees active plans only.
    return plans_active()
