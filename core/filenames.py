"""File names this code builds from a client's name, kept within what storage and the database accept.

Pure string rules with no dependency on any app: the tools shorten their
output names with them, and files.validation checks uploads against the same
limit.
"""

from __future__ import annotations

import os

MAX_NAME_BYTES = 255
# A name cut to fit ends its stem with this, so that nobody mistakes it for the whole name.
CUT_MARK = "\u2026"  # "…"
# The longest tail after the last dot kept whole when a name is cut: ".pdf",
# ".webp", ".min.png"'s ".png". A longer one is part of the name, not a type.
MAX_EXTENSION_CHARS = 16


def shorten_file_name(name: str, *, max_bytes: int = MAX_NAME_BYTES) -> str:
    """``name`` if it fits in ``max_bytes`` of UTF-8, else its stem cut to fit, the extension kept.

    For names this code builds from a client's name (a tool's output name,
    a run's summary), which may already be near the limit: they must never
    fail the 255 check or overflow ``varchar(255)``. The cut falls on a
    character boundary and is marked with "…"; ``varchar`` counts characters
    and the check counts bytes, and a character is at least one byte, so
    fitting the bytes fits both.
    """
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    stem, extension = os.path.splitext(name)
    mark = len(CUT_MARK.encode("utf-8"))
    if len(extension) > MAX_EXTENSION_CHARS or len(extension.encode("utf-8")) + mark >= max_bytes:
        stem, extension = name, ""
    budget = max_bytes - len(extension.encode("utf-8")) - mark
    # Bytes cut mid-character leave an incomplete sequence at the end only: dropping it is the boundary.
    kept = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip()
    return f"{kept}{CUT_MARK}{extension}"
