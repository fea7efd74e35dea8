from typing import Any

from django.db import migrations


def existing_users_verified(apps: Any, schema_editor: Any) -> None:
    """Users who could start runs before email verification existed keep that right.

    Their address is recorded as verified, unless Supabase says it is not
    confirmed (the sign-up trigger records confirmations from now on) or
    another account already holds it verified.
    """
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    connection = schema_editor.connection
    unconfirmed: set[Any] = set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('auth.users') IS NOT NULL")
            if cursor.fetchone()[0]:
                cursor.execute("SELECT id FROM auth.users WHERE email_confirmed_at IS NULL")
                unconfirmed = {row[0] for row in cursor.fetchall()}
    taken = {email.lower() for email in EmailAddress.objects.filter(verified=True).values_list("email", flat=True)}
    waiting = User.objects.filter(emailaddress__isnull=True).values_list("id", "email")
    EmailAddress.objects.bulk_create(
        [
            EmailAddress(user_id=user_id, email=email.lower(), verified=True, primary=True)
            for user_id, email in waiting
            if user_id not in unconfirmed and email.lower() not in taken
        ],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_supabase_auth_link"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(existing_users_verified, migrations.RunPython.noop)]
