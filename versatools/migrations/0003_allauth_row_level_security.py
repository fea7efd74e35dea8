from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    """django-allauth's tables: database cascades from users, RLS and least-privilege grants.

    allauth is a third-party app, so its SQL lives here, after its latest
    migrations. An allauth upgrade that alters one of these foreign keys
    drops its ON DELETE (Django recreates the constraint): re-apply
    ``cascade/allauth`` after it (``ReapplySQLFile``); the cascade tests fail
    until then.
    """

    dependencies = [
        ("versatools", "0002_row_level_security"),
        ("account", "0009_emailaddress_unique_primary_email"),
        ("socialaccount", "0006_alter_socialaccount_extra_data"),
    ]

    operations = [
        RunSQLFile("cascade/allauth"),
        RunSQLFile("rls/allauth"),
    ]
