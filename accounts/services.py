"""Writes for accounts. Views, admin actions, commands and tasks call these."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User


@transaction.atomic
def operator_ensure(*, email: str, password: str) -> User:
    """Create the operator superuser, or reset its password if it exists."""
    user, _ = User.objects.get_or_create(email=email, defaults={"is_staff": True, "is_superuser": True})
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    return user
