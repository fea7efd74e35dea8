from __future__ import annotations

from core.errors import Conflict, ServiceError


class InsufficientCredits(ServiceError):
    code = "insufficient_credits"
    http_status = 402


class QuotaExceeded(ServiceError):
    code = "quota_exceeded"
    http_status = 429


class InvalidSubscription(ServiceError):
    code = "invalid_subscription"


class IllegalSubscriptionMove(Conflict):
    """The subscription cannot move there from where it is (billing.subscriptions.LEGAL_MOVES); nothing changed."""

    code = "illegal_subscription_move"


class LedgerListInvalid(ServiceError):
    """A cursor of the ledger list that this API did not hand out."""

    code = "invalid_input"
    http_status = 400
