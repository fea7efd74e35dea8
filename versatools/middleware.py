"""Middleware that must act before a view reads anything."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from django.core.exceptions import BadRequest
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, TemporaryFileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParser
from django.utils.datastructures import ImmutableList, MultiValueDict

UPLOAD_PATHS = frozenset({"/api/runs"})
API_PREFIX = "/api/"


class NulByteGuardMiddleware:
    """Refuse a request whose URL or headers carry a NUL byte, with 400.

    PostgreSQL text cannot hold NUL: any query a NUL reaches (a ``?tool=``
    filter, an admin list filter or search, a session key) raises, which
    would be a 500. No valid request has one (RFC 9110 forbids NUL in header
    values; no name, id or filter here contains it), so it is refused once,
    here, for every view, rather than stripped: stripping would answer a
    question the client did not ask. The JSON API gets its usual error body;
    other pages (the admin) Django's 400 page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = _nul_in(request)
        if where is None:
            return self.get_response(request)
        detail = f"The request's {where} contains a NUL byte."
        if request.path_info.startswith(API_PREFIX):
            return JsonResponse({"error": "invalid_input", "detail": detail}, status=400)
        raise BadRequest(detail)  # Django's handler answers 400


def _nul_in(request: HttpRequest) -> str | None:
    if "\x00" in request.path_info:
        return "path"
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return f"query parameter {name.replace(chr(0), '')!r}"
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
            return f"header {key[5:].replace('_', '-').title()}"
    return None


class UploadBodyLimitMiddleware:
    """Refuse an upload to ``POST /api/runs`` that its sender may not make, before its body is read.

    django-ninja parses the multipart body (spooling files to disk) before
    the view runs, and the session auth's CSRF check reads it too, so any
    check in the view would come after a client had already filled the
    disk. Here, from the headers alone: an anonymous sender (no valid bearer
    token, no signed-in session) gets 401; then the declared Content-Length
    is checked against what the sender's own plan allows in one request
    (``run_upload_body_limit``); a body without one (chunked) is refused
    too, since its size cannot be known up front. Placed after
    AuthenticationMiddleware, which resolves the session user without
    reading the body.

    It also has the body parsed with file names refused as sent (see
    ``_StrictNameMultiPartParser``) instead of trimmed by Django.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # path_info, not path: path carries SCRIPT_NAME, so a proxy prefix
        # (or a client's own SCRIPT_NAME header) would otherwise skip the check.
        if request.method == "POST" and request.path_info in UPLOAD_PATHS:
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
            _parse_with_strict_names(request)
        return self.get_response(request)

    @staticmethod
    def _refusal(request: HttpRequest) -> JsonResponse | None:
        from accounts.auth import NOT_AUTHENTICATED, InvalidToken, api_caller
        from history.selectors import run_submit_caller, run_upload_body_limit

        try:
            user = api_caller(request)
        except InvalidToken as error:
            return JsonResponse({"error": error.code, "detail": error.message}, status=error.http_status)
        if user is None:
            return JsonResponse({"error": "not_authenticated", "detail": NOT_AUTHENTICATED}, status=401)
        raw = request.META.get("CONTENT_LENGTH") or ""
        if not raw:
            return JsonResponse({"error": "length_required", "detail": "Send a Content-Length header."}, status=411)
        try:
            declared = int(raw)
        except ValueError:
            return JsonResponse({"error": "invalid_input", "detail": "Content-Length is not a number."}, status=400)
        caller = run_submit_caller(user_id=user.id)
        # Read once per upload: the view hands the same to run_submit.
        request.upload_plan_limits = limits = caller.limits  # type: ignore[attr-defined]
        request.upload_email_verified = caller.email_verified  # type: ignore[attr-defined]
        limit = run_upload_body_limit(limits=limits)
        if declared > limit:
            detail = f"The upload is {declared} bytes; your plan accepts at most {limit} bytes in one request."
            return JsonResponse({"error": "file_too_large", "detail": detail}, status=413)
        return None


class _StrictNameMultiPartParser(MultiPartParser):
    """Django's multipart parser, except that a bad file name is refused rather than trimmed.

    Django keeps only the last part of a path (``../../etc/a.pdf`` arrives
    as ``a.pdf``), drops unprintable characters and truncates long names, so
    the view would never see what the client sent and could not refuse it
    as the README promises. Here the name as sent (HTML entities decoded, as
    Django does for old browsers) goes through ``clean_file_name`` first: a
    path part, control characters or more than 255 bytes raise
    FileNameInvalid (400), which ends the parse; the parser closes what it
    had already spooled.
    """

    def sanitize_file_name(self, file_name: str) -> str | None:
        from files.exceptions import FileNameInvalid
        from files.validation import clean_file_name

        # The parser decoded the name with errors="replace": a U+FFFD here is
        # where its bytes were not UTF-8.
        if "\ufffd" in file_name:
            raise FileNameInvalid("The file name is not valid UTF-8.")
        return clean_file_name(html.unescape(file_name))


class _PlainSuffixTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Django's spool-to-disk handler, with a temporary file name that is always short.

    Django ends the temporary file's name with the client's "extension",
    everything after the name's last dot: a valid 253-byte name such as
    ``a.<250 letters>`` makes it longer than the filesystem allows
    (ENAMETOOLONG, a 500) as soon as the file is big enough to spool.
    """

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        FileUploadHandler.new_file(self, *args, **kwargs)  # sets file_name, content_type, ...
        self.file = TemporaryUploadedFile("upload", self.content_type, 0, self.charset, self.content_type_extra)
        self.file.name = self.file_name  # the client's name, as metadata only


def _parse_with_strict_names(request: HttpRequest) -> None:
    """Have this request's multipart body parsed by _StrictNameMultiPartParser.

    Django builds its parser inside ``HttpRequest.parse_file_upload``, with
    no setting to swap it; an attribute on this one request shadows that
    method (for the upload endpoint only) and otherwise does what it does.
    """
    from files.exceptions import FileNameInvalid

    def parse_file_upload(
        meta: Mapping[str, Any], post_data: BinaryIO
    ) -> tuple[QueryDict, MultiValueDict[str, UploadedFile]]:
        request.upload_handlers = ImmutableList(
            [
                _PlainSuffixTemporaryFileUploadHandler(request)
                if type(handler) is TemporaryFileUploadHandler
                else handler
                for handler in request.upload_handlers
            ],
            warning="You cannot alter upload handlers after the upload has been processed.",
        )
        parser = _StrictNameMultiPartParser(meta, post_data, request.upload_handlers, request.encoding)
        try:
            return parser.parse()
        except FileNameInvalid:
            # As Django does for a malformed body: empty POST/FILES, so that
            # nothing reading them afterwards re-parses a half-read stream.
            request._mark_post_parse_error()  # type: ignore[attr-defined]
            raise

    # Shadows the method for this request only; mypy compares it with the method, self included.
    request.parse_file_upload = parse_file_upload  # type: ignore[method-assign,assignment]
