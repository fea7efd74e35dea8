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


OPERATORS_VIEW_ONLY = "Operators (view only)"


@transaction.atomic
def operator_group_sync(*, using: str = "default") -> int:
    """Make the view-only operator group hold every ``view_*`` permission and nothing else.

    Idempotent; run after every migrate (accounts.apps) so that a new model's
    view permission joins the group. Members need ``is_staff`` to log in.
    Returns the number of permissions the group now holds.
    """
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.using(using).get_or_create(name=OPERATORS_VIEW_ONLY)
    permissions = list(Permission.objects.using(using).filter(codename__startswith="view_"))
    group.permissions.set(permissions)
    return len(permissions)
