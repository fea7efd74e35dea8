from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    """Supabase mode (auth.users exists): users.id references auth.users, sign-ups open accounts."""

    dependencies = [
        ("accounts", "0004_auth_stand_ins_replaceable"),
        # The sign-up trigger opens the account with billing's one starting rule.
        ("billing", "0006_account_open"),
        # A confirmed Supabase email is recorded as verified in allauth's table.
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [RunSQLFile("auth/supabase_link")]
