"""Receivers for allauth's signals; connected in ``accounts.apps``."""

from __future__ import annotations

from typing import Any

from accounts.services import email_mark_verified


def verify_address_the_provider_vouched_for(sender: Any, request: Any, sociallogin: Any, **kwargs: Any) -> None:
    """A social account was connected: if its provider verified the user's address, so do we.

    Sent when email authentication connects a provider account to the local
    account with the same address (settings: SOCIALACCOUNT_EMAIL_AUTHENTICATION,
    only for addresses the provider marks verified) and when a signed-in user
    connects one. allauth leaves the local address as it was; the provider
    has just proved the person owns it, so runs need no confirmation mail.
    """
    user = sociallogin.user
    for address in sociallogin.email_addresses:
        if address.verified and address.email.lower() == user.email.lower():
            email_mark_verified(user_id=user.pk, email=user.email)
            return
