"""Reads for accounts that carry a rule."""

from __future__ import annotations

import uuid

from core.sqlfiles import run_query


def email_is_verified(*, user_id: uuid.UUID) -> bool:
    """Whether the user's own address (``users.email``, now) is verified.

    The rule is SQL (``sql/queries/fragments/email_verified.sql``), shared
    with the upload's one read of its sender (``history.selectors.run_submit_caller``).
    An address changed behind allauth's back (the admin) is unverified until
    confirmed, however many older addresses were. One query on the
    ``user_id`` index.
    """
    [row] = run_query("email_verified", {"user_id": user_id})
    return bool(row["verified"])
