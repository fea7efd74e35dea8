from __future__ import annotations

from core.errors import Conflict, NotFound, ServiceError


class UnknownTool(NotFound):
    code = "unknown_tool"


class ToolDisabled(ServiceError):
    code = "tool_disabled"
    http_status = 403


class RunNotFound(NotFound):
    code = "run_not_found"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class InvalidRunInput(ServiceError):
    code = "invalid_input"


class EmailUnverified(ServiceError):
    """The caller's address is not verified and REQUIRE_VERIFIED_EMAIL_FOR_RUNS is on."""

    code = "email_unverified"
    http_status = 403
