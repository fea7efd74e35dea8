"""Reads for accounts that carry a rule."""

from __future__ import annotations

import uuid
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
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


def account_profile_export(*, user_id: uuid.UUID) -> dict[str, Any]:
    """The person's own record, addresses and linked sign-in accounts, for their data export: three queries.

    No password hash, no provider token.

    The other apps add their part (``billing.selectors.billing_export``,
    ``history.selectors.runs_export``, ``files.selectors.files_export``);
    the account page's export composes them.
    """
    return {
        "user": User.objects.values("id", "email", "name", "image", "external_id", "created_at").get(id=user_id),
        "email_addresses": list(
            EmailAddress.objects.filter(user_id=user_id).values("email", "verified", "primary").order_by("email")
        ),
        # The sign-in providers linked (GitHub, Google): which, as whom, since when; no token is stored.
        "linked_accounts": list(
            SocialAccount.objects.filter(user_id=user_id)
            .values("provider", "uid", "date_joined", "last_login")
            .order_by("provider", "uid")
        ),
    }
