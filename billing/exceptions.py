from __future__ import annotations

from datetime import datetime

from core.errors import Conflict, ServiceError


class InsufficientCredits(ServiceError):
    code = "insufficient_credits"
    http_status = 402


class QuotaExceeded(ServiceError):
    """A usage window is used up; ``resets_at`` is when it starts again (None for the standing storage quota)."""

    code = "quota_exceeded"
    http_status = 429

    def __init__(self, message: str, *, resets_at: datetime | None = None) -> None:
        super().__init__(message)
        self.resets_at = resets_at


class InvalidSubscription(ServiceError):
    code = "invalid_subscription"


class IllegalSubscriptionMove(Conflict):
    """The subscription cannot move there from where it is (billing.subscriptions.LEGAL_MOVES); nothing changed."""

    code = "illegal_subscription_move"


class LedgerListInvalid(ServiceError):
    """A cursor of the ledger list that this API did not hand out."""

    code = "invalid_input"
    http_status = 400
