"""The base of every error a service raises on purpose.

Each carries a stable ``code`` and the HTTP status an API maps it to, so
views translate them without knowing every service, and commands print the
message as one readable line.
"""

from __future__ import annotations


class ServiceError(Exception):
    code = "invalid"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    code = "not_found"
    http_status = 404


class Conflict(ServiceError):
    code = "conflict"
    http_status = 409
