from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    """The one starting rule of an account, in SQL: Django and Supabase's sign-up trigger both call it."""

    dependencies = [
        ("billing", "0005_storage_usage_release"),
    ]

    operations = [RunSQLFile("functions/account_open")]
