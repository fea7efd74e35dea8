"""Writes for accounts. Views, admin actions, commands and tasks call these."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from accounts.models import User


@dataclass(frozen=True)
class OperatorEnsured:
    user: User
    created: bool
    # The password now in force when this call set it, else None (unchanged).
    password: str | None

    @property
    def password_set(self) -> bool:
        return self.password is not None


@transaction.atomic
def operator_ensure(*, email: str, password: str, reset_password: bool = False) -> OperatorEnsured:
    """Create the operator superuser with ``password``; an existing one is left as it is.

    ``make run`` calls this on every start: replacing the password each time
    would lock out whoever signed in with the last one, and re-granting
    superuser would undo an operator's own edits. ``reset_password`` sets
    ``password`` on an existing operator (and makes it an active superuser again).
    """
    user, created = User.objects.get_or_create(email=email, defaults={"is_staff": True, "is_superuser": True})
    if not created and not reset_password:
        return OperatorEnsured(user=user, created=False, password=None)
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    return OperatorEnsured(user=user, created=created, password=password)


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
