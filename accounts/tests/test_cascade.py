"""allauth's rows go with their user in the database too (sql/cascade/allauth.sql), not only through Django."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress, EmailConfirmation
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.db import connection

pytestmark = pytest.mark.django_db


def give_allauth_rows(user, label: str) -> None:
    address = EmailAddress.objects.get(user=user)  # make_user's verified address
    EmailAddress.objects.create(user=user, email=f"second-{label}@example.com")
    EmailConfirmation.objects.create(email_address=address, key=f"key-{label}")
    account = SocialAccount.objects.create(user=user, provider="github", uid=f"uid-{label}")
    SocialToken.objects.create(account=account, token=f"token-{label}")


def allauth_rows(user_id) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM account_emailaddress WHERE user_id = %(u)s),"
            " (SELECT count(*) FROM account_emailconfirmation c JOIN account_emailaddress a"
            "  ON a.id = c.email_address_id WHERE a.user_id = %(u)s),"
            " (SELECT count(*) FROM socialaccount_socialaccount WHERE user_id = %(u)s),"
            " (SELECT count(*) FROM socialaccount_socialtoken t JOIN socialaccount_socialaccount s"
            "  ON s.id = t.account_id WHERE s.user_id = %(u)s)",
            {"u": user_id},
        )
        addresses, confirmations, accounts, tokens = cursor.fetchone()
    return {"addresses": addresses, "confirmations": confirmations, "accounts": accounts, "tokens": tokens}


def test_deleting_a_user_with_raw_sql_removes_their_addresses_social_accounts_and_tokens(make_user) -> None:
    doomed, kept = make_user(), make_user()
    give_allauth_rows(doomed, "doomed")
    give_allauth_rows(kept, "kept")

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM users WHERE id = %s", [doomed.id])
        # The foreign keys are DEFERRABLE INITIALLY DEFERRED: check them now, inside the test's transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    assert allauth_rows(doomed.id) == {"addresses": 0, "confirmations": 0, "accounts": 0, "tokens": 0}
    assert allauth_rows(kept.id) == {"addresses": 2, "confirmations": 1, "accounts": 1, "tokens": 1}


def test_deleting_a_social_app_with_raw_sql_keeps_the_tokens_without_it(make_user) -> None:
    user = make_user()
    app = SocialApp.objects.create(provider="github", name="gh", client_id="id", secret="s")
    account = SocialAccount.objects.create(user=user, provider="github", uid="uid")
    token = SocialToken.objects.create(account=account, app=app, token="t")

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM socialaccount_socialapp WHERE id = %s", [app.id])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    token.refresh_from_db()
    assert token.app_id is None  # as the model's SET_NULL


def test_every_foreign_key_of_allauths_tables_has_its_database_action() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, a.attname, confdeltype FROM pg_constraint c"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
            " WHERE contype = 'f' AND (conrelid::regclass::text LIKE 'account\\_%%'"
            " OR conrelid::regclass::text LIKE 'socialaccount\\_%%')"
        )
        actions = {(table, column): action for table, column, action in cursor.fetchall()}

    assert actions == {
        ("account_emailaddress", "user_id"): "c",
        ("account_emailconfirmation", "email_address_id"): "c",
        ("socialaccount_socialaccount", "user_id"): "c",
        ("socialaccount_socialtoken", "account_id"): "c",
        ("socialaccount_socialtoken", "app_id"): "n",
    }
