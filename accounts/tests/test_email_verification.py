"""Who counts as verified: accounts.selectors.email_is_verified and the writers of account_emailaddress."""

from __future__ import annotations

import io

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command

from accounts.models import User
from accounts.selectors import email_is_verified
from accounts.services import email_mark_verified, emails_create_verified, operator_ensure

pytestmark = pytest.mark.django_db


@pytest.mark.both_dialects
def test_a_new_user_is_unverified_until_marked(make_user) -> None:
    person = make_user("Mixed.Case@Example.com", verified=False)
    assert not email_is_verified(user_id=person.id)

    assert email_mark_verified(user_id=person.id, email=person.email)

    assert email_is_verified(user_id=person.id)
    address = EmailAddress.objects.get(user=person)
    assert (address.email, address.verified, address.primary) == ("mixed.case@example.com", True, True)


@pytest.mark.both_dialects
def test_marking_twice_changes_nothing_and_moves_the_primary_flag(make_user) -> None:
    person = make_user("now@example.com", verified=False)
    EmailAddress.objects.create(user=person, email="before@example.com", verified=True, primary=True)

    assert email_mark_verified(user_id=person.id, email="now@example.com")
    assert email_mark_verified(user_id=person.id, email="now@example.com")

    assert sorted(EmailAddress.objects.filter(user=person).values_list("email", "verified", "primary")) == [
        ("before@example.com", True, False),
        ("now@example.com", True, True),
    ]


@pytest.mark.both_dialects
def test_only_the_users_current_address_counts(make_user) -> None:
    person = make_user("a_b@example.com", verified=False)
    # Another verified address of theirs, which LIKE 'a_b@...' would have matched.
    EmailAddress.objects.create(user=person, email="axb@example.com", verified=True, primary=False)

    assert not email_is_verified(user_id=person.id)


@pytest.mark.both_dialects
def test_an_address_verified_on_another_account_is_not_taken_over(make_user) -> None:
    owner = make_user("shared@example.com")
    other = make_user("other@example.com", verified=False)

    assert not email_mark_verified(user_id=other.id, email="shared@example.com")

    assert not EmailAddress.objects.filter(user=other).exists()
    assert email_is_verified(user_id=owner.id)


@pytest.mark.both_dialects
def test_create_operator_makes_a_verified_operator_even_one_that_existed_before(make_user) -> None:
    older = make_user("old-op@example.com", verified=False, is_staff=True, is_superuser=True)

    created = operator_ensure(email="op@example.com", password="op-password-1")
    kept = operator_ensure(email="old-op@example.com", password="unused")

    assert created.created and email_is_verified(user_id=created.user.id)
    assert not kept.created and kept.password is None
    assert email_is_verified(user_id=older.id)


@pytest.mark.both_dialects
def test_createsuperuser_makes_a_verified_superuser(monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "root-password-1")

    call_command("createsuperuser", "--noinput", "--email", "root@example.com", stdout=io.StringIO())

    root = User.objects.get(email="root@example.com")
    assert root.is_superuser and email_is_verified(user_id=root.id)


@pytest.mark.both_dialects
def test_bulk_created_users_get_their_verified_addresses_in_one_go(django_assert_num_queries) -> None:
    users = User.objects.bulk_create([User(email=f"bulk{i}@example.com") for i in range(3)])

    with django_assert_num_queries(1):
        written = emails_create_verified(addresses=[(user.id, user.email) for user in users])

    assert written == 3
    assert all(email_is_verified(user_id=user.id) for user in users)


def test_seed_demo_users_are_verified(settings, tmp_path) -> None:
    from demo.services import demo_users_queryset

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    call_command("seed_demo", "--users", "4", "--runs", "20", "--files", "0", stdout=io.StringIO())

    demo_ids = list(demo_users_queryset().values_list("id", flat=True))
    assert len(demo_ids) == 4
    assert all(email_is_verified(user_id=user_id) for user_id in demo_ids)
