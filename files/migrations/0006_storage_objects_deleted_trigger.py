from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    """Owed deletes and quota given back by the database itself, for every way a row can go."""

    dependencies = [
        ("files", "0005_storage_deletions_rls"),
        ("billing", "0003_row_level_security"),
    ]

    operations = [
        RunSQLFile("triggers/storage_objects_deleted_0006"),
        RunSQLFile("triggers/sqlite/storage_objects_deleted", vendor="sqlite"),
    ]
