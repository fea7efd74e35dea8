"""Opaque keyset cursors for the newest-first lists of the API: (a timestamp, the row's key).

One encoding for every list (runs, files, the ledger): base64 of
``<ISO timestamp>|<key>``. A cursor that does not decode to an aware
timestamp and a key of the list's type is the caller's error (the list
names which, as a ServiceError with its own HTTP status), never an empty page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from core.errors import ServiceError

Key = TypeVar("Key")


def cursor_encode(*, at: datetime, key: object) -> str:
    raw = f"{at.isoformat()}|{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str, *, key: Callable[[str], Key], invalid: type[ServiceError]) -> tuple[datetime, Key]:
    """(timestamp, key) of a cursor ``cursor_encode`` made; ``invalid`` raised for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, key_text = raw.split("|")
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, key(key_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("The cursor is not one this API returned.") from None
