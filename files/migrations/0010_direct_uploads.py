from django.db import migrations, models

from core.migration_ops import ReapplySQLFile, RunSQLFile


class Migration(migrations.Migration):
    """Direct uploads: a reservation is a row awaiting its upload; a key a signed target can still write
    is deleted again once the target has expired (README "Direct uploads")."""

    dependencies = [("files", "0009_supabase_storage_bucket")]

    # On SQLite, adding the NOT NULL awaiting_upload rebuilds storage_objects, which drops
    # its owed-delete trigger: it is put back after, going either way.
    operations = [
        ReapplySQLFile("triggers/sqlite/storage_objects_deleted", forwards=False, vendor="sqlite"),
        migrations.AddField(
            model_name="storagedeletion",
            name="not_before",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="storageobject",
            name="awaiting_upload",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="storageobject",
            name="upload_writable_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        ReapplySQLFile("triggers/sqlite/storage_objects_deleted", forwards=True, vendor="sqlite"),
        RunSQLFile("triggers/storage_upload_targets_deleted"),
        RunSQLFile("triggers/sqlite/storage_upload_targets_deleted", vendor="sqlite"),
    ]
