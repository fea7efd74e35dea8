from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [
        ("versatools", "0002_row_level_security"),
        ("accounts", "0002_database_cascade"),
    ]

    operations = [
        RunSQLFile("rls/accounts"),
        RunSQLFile("rls/updated_at/accounts"),
    ]
