from __future__ import annotations

from core.errors import ServiceError


class InsufficientCredits(ServiceError):
    code = "insufficient_credits"
    http_status = 402


class QuotaExceeded(ServiceError):
    code = "quota_exceeded"
    http_status = 429


class InvalidSubscription(ServiceError):
    code = "invalid_subscription"
