"""JSON endpoints for the plan catalog and the payment provider's events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from accounts.auth import AuthenticatedRequest
from billing.selectors import ledger_page, plans_active
from billing.webhooks import SIGNATURE_HEADER, webhook_receive
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


class WebhookOut(Schema):
    event_id: str
    applied: bool
    duplicate: bool
    detail: str


@router.post("/webhooks/billing", response=with_errors({200: WebhookOut}), auth=None, tags=["billing"])
def billing_webhook(request: HttpRequest) -> dict[str, Any]:
    """A payment provider's signed event (README "Payment provider events"): 200 once applied, ignored or a replay.

    The signature (header X-Billing-Signature) is checked over the raw body
    before anything is parsed; a bad or stale one is 401, an unknown user
    404, a malformed event 400: each changes nothing.
    """
    outcome = webhook_receive(raw_body=request.body, signature=request.headers.get(SIGNATURE_HEADER, ""))
    return {
        "event_id": outcome.event_id,
        "applied": outcome.applied,
        "duplicate": outcome.duplicate,
        "detail": outcome.detail,
    }


class LedgerQuery(Schema):
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


class LedgerEntryOut(Schema):
    id: int
    operation_type: str
    credits: int  # positive spent, negative refunded or granted
    details: dict[str, Any]
    run_id: uuid.UUID | None
    created_at: datetime


class LedgerPageOut(Schema):
    items: list[LedgerEntryOut]
    next_cursor: str | None


@router.get("/ledger", response=with_errors({200: LedgerPageOut}), tags=["billing"])
def ledger(request: AuthenticatedRequest, query: Query[LedgerQuery]) -> dict[str, Any]:
    """The caller's credit ledger, newest first (charges, refunds, grants), keyset cursor on (created_at, id)."""
    page = ledger_page(user_id=request.auth.id, limit=query.limit, cursor=query.cursor)
    return {"items": page.items, "next_cursor": page.next_cursor}
