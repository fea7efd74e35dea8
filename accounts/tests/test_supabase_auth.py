"""Supabase mode on PostgreSQL: users are the profiles of auth.users.

Each test builds a minimal ``auth.users`` shaped like Supabase's (the columns
the link reads and writes) inside its own transaction and installs the link
(sql/auth/supabase_link.sql) there, so every test starts from the state
"Supabase's auth server is there" and leaves nothing behind. The migration
round trip on a Supabase-like database is in versatools/tests/test_rls_migrations.py.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.db.utils import DatabaseError, IntegrityError

from accounts.models import User
from billing.models import CreditBalance, CreditLedgerEntry, Plan, Subscription
from core.sqlfiles import read_sql
from files.models import StorageDeletion, StorageObject
from files.services import storage_object_store
from history.models import History

pytestmark = pytest.mark.django_db

AUTH_USERS = """
CREATE TABLE auth.users (
    instance_id uuid,
    id uuid PRIMARY KEY,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    phone text,
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    created_at timestamptz,
    updated_at timestamptz
);
CREATE UNIQUE INDEX users_email_partial_key ON auth.users (email);
"""
PDF = b"%PDF-1.4\n%%EOF\n"


def sql(statement: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)  # None: no placeholders (the link's RAISE uses %)
        return cursor.fetchall() if cursor.description else []


def link() -> None:
    sql(read_sql("auth/supabase_link"))


def sign_up(email: str | None, *, confirmed: bool = False, **meta: str) -> uuid.UUID:
    """What Supabase's auth server writes for a sign-up."""
    user_id = uuid.uuid4()
    sql(
        "INSERT INTO auth.users (instance_id, id, aud, role, email, email_confirmed_at, raw_user_meta_data,"
        " created_at, updated_at) VALUES ('00000000-0000-0000-0000-000000000000', %s, 'authenticated',"
        " 'authenticated', %s, CASE WHEN %s THEN now() END, %s::jsonb, now(), now())",
        [user_id, email, confirmed, json.dumps(meta)],
    )
    return user_id


@pytest.fixture
def supabase(fs_storage_root) -> None:
    Plan.objects.create(key="free", name="Free", credits=20)
    sql(AUTH_USERS)
    link()


@pytest.fixture
def fs_storage_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    return tmp_path


def test_a_supabase_sign_up_creates_the_profile_and_opens_the_account(supabase, client, bearer) -> None:
    user_id = sign_up("Ada@Example.com", full_name="Ada Lovelace", avatar_url="https://img.example/ada.png")

    user = User.objects.get(id=user_id)
    assert (user.email, user.name, user.image) == ("Ada@Example.com", "Ada Lovelace", "https://img.example/ada.png")
    assert not user.has_usable_password()  # signs in through Supabase
    assert Subscription.objects.get(user=user).plan.key == "free"
    assert CreditBalance.objects.get(user=user).credits_remaining == 20
    assert list(CreditLedgerEntry.objects.filter(user=user).values_list("idempotency_key", "credits")) == [
        ("opening-grant", -20)
    ]
    # Their token works from the first request: the profile is there.
    response = client.get("/api/dashboard", headers=bearer(user))
    assert response.status_code == 200, response.content
    assert response.json()["credits_remaining"] == 20


def test_a_phone_only_sign_up_gets_a_placeholder_address(supabase) -> None:
    user_id = sign_up(None)

    assert User.objects.get(id=user_id).email == f"{user_id}@users.invalid"


def test_an_email_already_used_by_another_profile_refuses_the_sign_up(supabase, make_user) -> None:
    make_user(email="taken@example.com")

    # Supabase compares emails as written; the profile's address is unique whatever its case.
    with pytest.raises(IntegrityError, match="users_email_ci_unique"):
        sign_up("TAKEN@example.com")


def test_a_user_django_creates_gets_its_auth_user_first(supabase, make_user) -> None:
    user = make_user(email="operator@example.com")

    assert sql("SELECT email, aud FROM auth.users WHERE id = %s", [user.id]) == [
        ("operator@example.com", "authenticated")
    ]
    assert Subscription.objects.filter(user=user).count() == 1  # opened once, by Django's own signal
    assert CreditLedgerEntry.objects.filter(user=user, idempotency_key="opening-grant").count() == 1


def test_deleting_the_auth_user_removes_everything_they_own_and_owes_their_blobs(supabase, make_run) -> None:
    user_id = sign_up("gone@example.com")
    user = User.objects.get(id=user_id)
    run = make_run(user, status="COMPLETED")
    stored = storage_object_store(user_id=user.id, content=PDF, name="a.pdf", run_id=run.id)

    sql("DELETE FROM auth.users WHERE id = %s", [user_id])  # the dashboard's "delete user"

    assert not User.objects.filter(id=user_id).exists()
    assert not History.objects.filter(user_id=user_id).exists()
    assert not StorageObject.objects.filter(user_id=user_id).exists()
    assert not CreditLedgerEntry.objects.filter(user_id=user_id).exists()
    assert not Subscription.objects.filter(user_id=user_id).exists()
    assert list(StorageDeletion.objects.values_list("key", flat=True)) == [stored.key]


def test_deleting_the_profile_from_the_app_deletes_the_auth_user(supabase, make_user) -> None:
    user = make_user()

    user.delete()

    assert sql("SELECT count(*) FROM auth.users WHERE id = %s", [user.id]) == [(0,)]


def test_a_changed_or_confirmed_email_in_auth_follows_into_the_profile(supabase) -> None:
    user_id = sign_up("old@example.com")

    sql("UPDATE auth.users SET email = 'new@example.com', email_confirmed_at = now() WHERE id = %s", [user_id])

    assert User.objects.get(id=user_id).email == "new@example.com"
    assert sql('SELECT email, verified, "primary" FROM account_emailaddress WHERE user_id = %s', [user_id]) == [
        ("new@example.com", True, True)
    ]


def test_the_link_backfills_both_ways_and_opens_the_accounts(fs_storage_root, make_user) -> None:
    Plan.objects.create(key="free", name="Free", credits=20)
    django_user = make_user(email="django@example.com")
    sql(AUTH_USERS)
    early = sign_up("early@example.com", name="Early")  # before the link: no trigger yet

    link()
    link()  # idempotent

    assert User.objects.get(id=early).name == "Early"
    assert CreditBalance.objects.get(user_id=early).credits_remaining == 20
    assert CreditLedgerEntry.objects.filter(user_id=early, idempotency_key="opening-grant").count() == 1
    assert sql("SELECT email FROM auth.users WHERE id = %s", [django_user.id]) == [("django@example.com",)]
    assert sql("SELECT count(*) FROM pg_constraint WHERE conname = 'users_id_auth_users_fkey'") == [(1,)]


def test_one_email_under_two_ids_stops_the_link_with_the_list(make_user) -> None:
    make_user(email="twice@example.com")
    sql(AUTH_USERS)
    sign_up("twice@example.com")

    with pytest.raises(DatabaseError, match=r"twice@example\.com"):
        link()
