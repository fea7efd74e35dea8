"""Middleware that must act before a view reads anything."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

UPLOAD_PATHS = frozenset({"/api/runs"})


class UploadBodyLimitMiddleware:
    """Refuse an oversized upload to ``POST /api/runs`` before its body is read.

    django-ninja parses the multipart body (spooling files to disk) before
    the view runs, so a check in the view would come after a client had
    already filled the disk. The declared Content-Length is checked here
    against the largest body any plan allows; a body without one (chunked) is
    refused too, since its size cannot be known up front.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in UPLOAD_PATHS:
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    @staticmethod
    def _refusal(request: HttpRequest) -> JsonResponse | None:
        from history.selectors import run_upload_body_limit

        raw = request.META.get("CONTENT_LENGTH") or ""
        if not raw:
            return JsonResponse({"error": "length_required", "detail": "Send a Content-Length header."}, status=411)
        try:
            declared = int(raw)
        except ValueError:
            return JsonResponse({"error": "invalid_input", "detail": "Content-Length is not a number."}, status=400)
        limit = run_upload_body_limit()
        if declared > limit:
            detail = f"The upload is {declared} bytes; no plan accepts more than {limit} bytes in one request."
            return JsonResponse({"error": "file_too_large", "detail": detail}, status=413)
        return None
