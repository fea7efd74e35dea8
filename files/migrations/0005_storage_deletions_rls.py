from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [
        ("files", "0004_storage_deletions"),
    ]

    operations = [RunSQLFile("rls/files_storage_deletions")]
