"""Payment provider events (``POST /api/webhooks/billing``): verified before parsed, applied once, by the rules.

The signature: header ``X-Billing-Signature: t=<unix seconds>,v1=<hex>``,
``v1`` = HMAC-SHA256 with ``BILLING_WEBHOOK_SECRET`` over ``"<t>." + raw
body``, and ``t`` within ``BILLING_WEBHOOK_TOLERANCE_SECONDS`` of now (a
captured request cannot be replayed later). Nothing is parsed before it
verifies.

The event, one JSON shape for every provider::

    {"id": "evt_123", "type": "payment.succeeded", "created": 1764590000,
     "data": {"user_id": "<users.id>" | "customer_id": "<users.external_id>"
                  | "subscription_id": "<provider subscription id>",
              "plan": "<plan key>" | "plan_external_id": "<plans.external_id>",
              "period_start": "<ISO 8601>", "period_end": "<ISO 8601>"}}

``type``: ``payment.succeeded`` (active for the period, the plan's credits
granted once), ``payment.failed`` (past_due), ``subscription.cancelled``,
``plan.changed`` (the mid-period rule of ``subscription_change_plan``).
Each is applied in one transaction, after the subscription's row is
locked: the event is recorded as its ``subscription_events`` row (with the
raw payload and the provider's id, unique), so a redelivery answers 200 and
changes nothing. An event the rules refuse where the subscription is now
(a payment failure arriving after the cancellation), or older than one
already applied, is recorded as ignored, with the reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from billing.exceptions import IllegalSubscriptionMove
from billing.models import Plan, Subscription, SubscriptionEvent
from billing.subscriptions import (
    ACTIVE,
    CANCELLED,
    PAST_DUE,
    Period,
    subscription_change_plan,
    subscription_move,
)
from core.errors import NotFound, ServiceError

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Billing-Signature"
# The events that only move the status (the others also name a period or a plan).
STATUS_OF_EVENT = {"payment.failed": PAST_DUE, "subscription.cancelled": CANCELLED}


class WebhooksNotConfigured(ServiceError):
    """No BILLING_WEBHOOK_SECRET: nothing can be verified. 503, so the provider retries once it is set."""

    code = "webhooks_not_configured"
    http_status = 503


class SignatureInvalid(ServiceError):
    code = "signature_invalid"
    http_status = 401


class SignatureExpired(SignatureInvalid):
    code = "signature_expired"


class EventInvalid(ServiceError):
    code = "invalid_event"
    http_status = 400


class UnknownSubscriber(NotFound):
    code = "unknown_user"


class EventData(BaseModel):
    model_config = ConfigDict(extra="allow")

    user_id: uuid.UUID | None = None
    customer_id: str | None = Field(default=None, max_length=255)
    subscription_id: str | None = Field(default=None, max_length=255)
    plan: str | None = Field(default=None, max_length=32)
    plan_external_id: str | None = Field(default=None, max_length=100)
    period_start: datetime | None = None
    period_end: datetime | None = None

    @model_validator(mode="after")
    def _names_someone(self) -> EventData:
        if self.user_id is None and not self.customer_id and not self.subscription_id:
            raise ValueError("data names none of user_id, customer_id, subscription_id")
        if (self.period_start is None) != (self.period_end is None):
            raise ValueError("period_start and period_end come together")
        if self.period_start is not None and self.period_end is not None and self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")
        return self


class Event(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=255)
    type: Literal["payment.succeeded", "payment.failed", "subscription.cancelled", "plan.changed"]
    created: int = Field(ge=0)
    data: EventData


@dataclass(frozen=True)
class WebhookOutcome:
    event_id: str
    applied: bool
    duplicate: bool = False
    detail: str = ""


def webhook_signature(*, secret: str, timestamp: int, raw_body: bytes) -> str:
    """The header value a provider sends for ``raw_body`` at ``timestamp`` (and what tests sign with)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_verify(*, raw_body: bytes, signature: str, now: float | None = None) -> None:
    """Raise unless ``signature`` is the secret's HMAC of this body, made within the tolerance."""
    secret = settings.BILLING_WEBHOOK_SECRET
    if not secret:
        raise WebhooksNotConfigured("Billing webhooks are not configured (BILLING_WEBHOOK_SECRET).")
    parts = dict(part.split("=", 1) for part in signature.split(",") if "=" in part)
    timestamp, sent = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or not sent:
        raise SignatureInvalid(f"The {SIGNATURE_HEADER} header must be t=<unix seconds>,v1=<hex HMAC-SHA256>.")
    expected = webhook_signature(secret=secret, timestamp=int(timestamp), raw_body=raw_body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, sent):
        raise SignatureInvalid("The signature does not match the body.")
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > settings.BILLING_WEBHOOK_TOLERANCE_SECONDS:
        raise SignatureExpired(
            f"The signature is {int(age)} s old; at most {settings.BILLING_WEBHOOK_TOLERANCE_SECONDS} s is accepted."
        )


def webhook_receive(*, raw_body: bytes, signature: str) -> WebhookOutcome:
    """Verify, parse and apply one provider event: the whole of ``POST /api/webhooks/billing``."""
    webhook_verify(raw_body=raw_body, signature=signature)
    try:
        payload = json.loads(raw_body)
        event = Event.model_validate(payload)
    except (ValueError, ValidationError) as error:
        raise EventInvalid(f"The event is not one this endpoint takes: {error}") from None
    try:
        return _apply(event, payload)
    except IntegrityError:
        # The same event delivered twice at once: the other delivery recorded it first.
        if SubscriptionEvent.objects.filter(provider_event_id=event.id).exists():
            return WebhookOutcome(event_id=event.id, applied=False, duplicate=True, detail="already received")
        raise


@transaction.atomic
def _apply(event: Event, payload: dict[str, Any]) -> WebhookOutcome:
    subscription = _locked_subscription(event.data)
    if SubscriptionEvent.objects.filter(provider_event_id=event.id).exists():
        return WebhookOutcome(event_id=event.id, applied=False, duplicate=True, detail="already received")
    occurred = datetime.fromtimestamp(event.created, UTC)
    metadata = {"provider_event": payload}
    newer = (
        SubscriptionEvent.objects.filter(user_id=subscription.user_id, provider_event_id__isnull=False)
        .filter(occurred_at__gt=occurred)
        .exists()
    )
    if newer:
        return _ignore(event, subscription, occurred, metadata, "older than an event already applied")
    plan_key = _plan_key(event.data)
    try:
        if event.type == "payment.succeeded":
            if event.data.subscription_id:
                Subscription.objects.filter(id=subscription.id).update(
                    provider_subscription_id=event.data.subscription_id
                )
            start, end = event.data.period_start, event.data.period_end
            period = Period(start=start, end=end) if start and end else Period.starting(occurred)
            subscription_move(
                user_id=subscription.user_id,
                to_status=ACTIVE,
                event_type=event.type,
                plan_key=plan_key,
                period=period,
                grant_plan_credits=True,
                metadata=metadata,
                at=occurred,
                provider_event_id=event.id,
            )
        elif event.type in STATUS_OF_EVENT:
            subscription_move(
                user_id=subscription.user_id,
                to_status=STATUS_OF_EVENT[event.type],
                event_type=event.type,
                metadata=metadata,
                at=occurred,
                provider_event_id=event.id,
            )
        else:
            if plan_key is None:
                raise EventInvalid("plan.changed names no plan (data.plan or data.plan_external_id).")
            subscription_change_plan(
                user_id=subscription.user_id,
                plan_key=plan_key,
                actor="provider",
                provider_event_id=event.id,
                metadata=metadata,
            )
    except IllegalSubscriptionMove as refused:
        return _ignore(event, subscription, occurred, metadata, refused.message)
    logger.info("billing event applied id=%s type=%s user_id=%s", event.id, event.type, subscription.user_id)
    return WebhookOutcome(event_id=event.id, applied=True)


def _locked_subscription(data: EventData) -> Subscription:
    """The subscription the event is about, locked first (the lock order: the subscription, then the balance)."""
    found = Subscription.objects.select_for_update()
    if data.user_id is not None:
        subscription = found.filter(user_id=data.user_id).first()
    elif data.customer_id:
        subscription = found.filter(user__external_id=data.customer_id).first()
    else:
        subscription = found.filter(provider_subscription_id=data.subscription_id).first()
    if subscription is None:
        raise UnknownSubscriber("No subscription of this event's user_id, customer_id or subscription_id.")
    return subscription


def _plan_key(data: EventData) -> str | None:
    if data.plan is not None:
        if not Plan.objects.filter(key=data.plan).exists():
            raise EventInvalid(f"There is no plan {data.plan!r}.")
        return data.plan
    if data.plan_external_id is not None:
        key = Plan.objects.filter(external_id=data.plan_external_id).values_list("key", flat=True).first()
        if key is None:
            raise EventInvalid(f"No plan has the external id {data.plan_external_id!r}.")
        return key
    return None


def _ignore(
    event: Event, subscription: Subscription, occurred: datetime, metadata: dict[str, Any], reason: str
) -> WebhookOutcome:
    """Record an event the rules refuse (so that its redelivery is recognised), changing nothing else."""
    SubscriptionEvent.objects.create(
        user_id=subscription.user_id,
        plan_key=subscription.plan.key,
        status=subscription.status,
        event_type=f"{event.type}.ignored",
        occurred_at=occurred,
        metadata={**metadata, "ignored": reason},
        provider_event_id=event.id,
    )
    logger.info("billing event ignored id=%s type=%s reason=%s", event.id, event.type, reason)
    return WebhookOutcome(event_id=event.id, applied=False, detail=reason)
