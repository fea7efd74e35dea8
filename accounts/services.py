"""Writes for accounts. Views, admin actions, commands and tasks call these."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import connections, transaction

from accounts.models import User
from core.errors import ServiceError
from core.sqlfiles import read_sql


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
    # Every call, so that an operator created before email verification existed can start runs too.
    email_mark_verified(user_id=user.id, email=user.email)
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


SUPABASE_LINK_MIGRATION = ("accounts", "0005_supabase_auth_link")


def supabase_auth_link(*, using: str = "default") -> bool:
    """Link users to Supabase's auth.users if it exists now and the link is not there yet; True if this call did.

    The accounts migration installs the link where auth.users exists when it
    runs; on a fresh self-hosted stack Supabase's auth server may create
    auth.users only after this project migrated, so every migrate checks
    again (accounts.apps). Nothing happens on SQLite, without auth.users, or
    when the migration is not applied (migrated back below it).
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass('auth.users') IS NOT NULL"
            " AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conname = 'users_id_auth_users_fkey')"
            " AND EXISTS (SELECT FROM django_migrations WHERE app = %s AND name = %s)",
            list(SUPABASE_LINK_MIGRATION),
        )
        [[wanted]] = cursor.fetchall()
        if not wanted:
            return False
        cursor.execute(read_sql("auth/supabase_link"))
    return True


@transaction.atomic
def email_mark_verified(*, user_id: uuid.UUID, email: str) -> bool:
    """Record ``email`` as the user's verified, primary address; idempotent.

    For addresses we know are the user's without a confirmation mail: the
    operator (``create_operator``, ``createsuperuser``) and an address a
    provider has vouched for at OAuth sign-in (``accounts.signals``). Returns
    False, changing nothing, when another account holds the address verified:
    an address is verified on one account at most (allauth's UNIQUE_EMAIL).
    """
    address = email.lower()  # allauth stores addresses lowercased
    if EmailAddress.objects.filter(email=address, verified=True).exclude(user_id=user_id).exists():
        return False
    if EmailAddress.objects.filter(user_id=user_id, email=address, verified=True, primary=True).exists():
        return True
    # One primary per user (allauth's unique_primary_email): this one now.
    EmailAddress.objects.filter(user_id=user_id, primary=True).exclude(email=address).update(primary=False)
    EmailAddress.objects.update_or_create(user_id=user_id, email=address, defaults={"verified": True, "primary": True})
    return True


def emails_create_verified(*, addresses: Iterable[tuple[uuid.UUID, str]]) -> int:
    """Verified primary addresses for users just created in bulk, who have none yet (``seed_demo``).

    One INSERT per 1,000 rows; no signals, no checks for existing rows.
    Returns how many were written.
    """
    rows = [
        EmailAddress(user_id=user_id, email=email.lower(), verified=True, primary=True) for user_id, email in addresses
    ]
    EmailAddress.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


class AccountNotDeletable(ServiceError):
    code = "account_not_deletable"
    http_status = 409


@transaction.atomic
def account_delete(*, user_id: uuid.UUID) -> bool:
    """Delete a person's account and everything of theirs; whether there was one to delete.

    One transaction: the user row and, by their cascading foreign keys, their
    runs, files, balance, ledger, subscription and addresses. Each file row
    deleted owes its blob a delete (``sql/triggers/storage_objects_deleted.sql``),
    which the cleanup task carries out after the commit, so nothing is left in
    storage. Subscription events stay (append-only; user_id as plain data).
    The account page first refuses while a payment provider still charges the
    person (``billing.selectors.subscription_charged_by_provider``).
    A run a worker holds fails its own finish: its row is gone, and the
    worker deletes what it wrote. Operators (superusers) are deleted in the
    admin, never from the account page, so the last one cannot lock everyone out.
    """
    # FOR NO KEY UPDATE, not FOR UPDATE: a worker storing a run's output holds
    # the run and inserts a file row whose foreign key takes KEY SHARE on this
    # user; a full lock here would wait on it while it waits on us (a
    # deadlock). This lock only stops a second delete; the run rows are taken
    # as the cascade reaches them, after any worker holding one commits.
    user = User.objects.select_for_update(no_key=True).filter(id=user_id).first()
    if user is None:
        return False
    if user.is_superuser:
        raise AccountNotDeletable("An operator account is deleted by another operator in the admin.")
    user.delete()
    return True
