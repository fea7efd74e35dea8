"""Reads for accounts that carry a rule."""

from __future__ import annotations

import uuid

from allauth.account.models import EmailAddress
from django.db.models.functions import Lower


def email_is_verified(*, user_id: uuid.UUID) -> bool:
    """Whether the user's own address (``users.email``) is verified.

    allauth's ``account_emailaddress`` is the one record of it: the sign-up
    confirmation link, a provider that vouched for the address (OAuth),
    ``create_operator``/``createsuperuser`` and ``seed_demo`` write it there,
    and Supabase's confirmations are synced into it in the database. The row
    must be for the address in ``users.email`` now: an address changed
    behind allauth's back (the admin) is unverified until confirmed, however
    many older addresses were. Compared lowercased on both sides (allauth
    stores addresses lowercased, ``users.email`` keeps the local part as
    typed), never with LIKE, whose ``_`` would match any character. One
    query on the ``user_id`` index.
    """
    verified = EmailAddress.objects.filter(user_id=user_id, verified=True).alias(address=Lower("email"))
    return bool(verified.filter(address=Lower("user__email")).exists())
