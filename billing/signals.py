"""Every new user starts on the default plan, however the user was created.

Billing listens to the creation of a user (accounts knows nothing of plans):
the dependency points from billing to accounts, never back.
"""

from __future__ import annotations

from typing import Any

from accounts.models import User
from billing.services import account_open


def open_account_of_new_user(
    sender: type[User], instance: User, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    # post_save, not the manager: createsuperuser, the admin's add form,
    # get_or_create and a plain User.objects.create all save, and not all
    # go through create_user. Raw saves (loaddata) restore rows that bring
    # their own subscription and ledger.
    if not created or raw:
        return
    account_open(user_id=instance.pk)
