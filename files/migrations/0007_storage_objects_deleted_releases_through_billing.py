from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    """The owed-delete trigger gives bytes back through billing's writer, not an UPDATE of billing's table."""

    dependencies = [
        ("files", "0006_storage_objects_deleted_trigger"),
        ("billing", "0005_storage_usage_release"),
    ]

    operations = [RunSQLFile("triggers/storage_objects_deleted")]
