"""The internal JSON API for the dashboard (``/api/``), built with django-ninja.

Each app contributes a router from its ``api.py``; this module assembles them
and turns errors into JSON with the right status: a service's ``ServiceError``
carries its own code and status, schema validation failures are 400, auth
failures 401, unknown ids 404 (for another user's id too: no existence oracle).
Read endpoints run as the caller under row level security (below).
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from accounts.auth import SessionUserAuth, SupabaseBearerAuth
from core.errors import ServiceError
from core.retry import is_lock_conflict
from versatools.rls import rls_api_reads

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="VersaTools internal API",
    version="1",
    urls_namespace="api",
    auth=[SupabaseBearerAuth(), SessionUserAuth()],
    docs_url=None,
)

# Every GET runs its selectors as the caller under the database's row level
# security (versatools.rls), so an endpoint that forgot its user_id filter
# still answers only the caller's rows. API-wide rather than per view: a new
# read endpoint is covered without anyone remembering to wrap it. "operation"
# is ninja's mode that wraps the view itself, after authentication.
api.add_decorator(rls_api_reads, mode="operation")


def error_response(request: HttpRequest, status: int, code: str, detail: Any) -> HttpResponse:
    return api.create_response(request, {"error": code, "detail": detail}, status=status)


@api.exception_handler(ServiceError)
def on_service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    resets_at = getattr(exc, "resets_at", None)
    if resets_at is None:
        response = error_response(request, exc.http_status, exc.code, exc.message)
    else:
        # A used-up usage window (429): when to come back, for people and for clients.
        body = {"error": exc.code, "detail": exc.message, "resets_at": resets_at}
        response = api.create_response(request, body, status=exc.http_status)
        response["Retry-After"] = str(max(1, int((resets_at - timezone.now()).total_seconds())))
    if exc.http_status == 503:
        response["Retry-After"] = "1"
    return response


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = [
        {"field": ".".join(str(part) for part in error.get("loc", ())), "message": error.get("msg", "")}
        for error in exc.errors
    ]
    return error_response(request, 400, "invalid_input", problems)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "not_authenticated", "Sign in, or send an Authorization: Bearer token.")


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", str(exc) or "Not found.")


HTTP_ERROR_CODES = {403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "file_too_large"}


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Raised by django-ninja itself, e.g. 403 for a session write without its CSRF token.
    return error_response(request, exc.status_code, HTTP_ERROR_CODES.get(exc.status_code, "error"), str(exc))


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    if is_lock_conflict(exc):
        # A deadlock outside a retried service: nothing was written, so say "again", not "broken".
        logger.warning("lock conflict answered 503 %s %s: %s", request.method, request.path, exc)
        response = error_response(request, 503, "busy", "The server was busy with a conflicting change; try again.")
        response["Retry-After"] = "1"
        return response
    # A bug or an outage nobody anticipated: still JSON, never a traceback.
    logger.exception("unexpected API error %s %s", request.method, request.path)
    return error_response(request, 500, "internal_error", "Something went wrong on our side; try again later.")


def _register_routers() -> None:
    from billing.api import router as billing_router
    from files.api import router as files_router
    from history.api import router as history_router
    from stats.api import router as stats_router
    from tools.api import router as tools_router

    api.add_router("", history_router)
    api.add_router("", stats_router)
    api.add_router("", billing_router)
    api.add_router("", files_router)
    api.add_router("", tools_router)


_register_routers()
