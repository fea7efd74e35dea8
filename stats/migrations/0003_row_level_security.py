from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [
        ("versatools", "0002_row_level_security"),
        ("stats", "0002_database_cascade"),
    ]

    operations = [
        RunSQLFile("rls/stats"),
        RunSQLFile("rls/updated_at/stats"),
    ]
