"""Schemas shared by every app's API: the error body and the statuses it comes with."""

from __future__ import annotations

from typing import Any

from ninja import Schema


class ErrorOut(Schema):
    error: str
    detail: Any


# The client errors an endpoint may answer with, documented in the OpenAPI schema.
CLIENT_ERRORS = frozenset({400, 401, 402, 403, 404, 409, 411, 413, 415, 429})


def with_errors(ok: dict[int, Any]) -> dict[int, Any]:
    """A response map: the success statuses given, plus every documented client error."""
    return {**ok, **dict.fromkeys(CLIENT_ERRORS, ErrorOut)}
