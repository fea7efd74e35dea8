from django.db import migrations, models


class Migration(migrations.Migration):
    """Drop seed 001's soft delete: never written, a delete is a hard delete with its blob owed (README).

    The expiry index loses its ``deleted_at IS NULL`` condition first (SQLite
    cannot drop a column a partial index names) and comes back over every row,
    with ``id`` after ``expires_at``: cleanup's keyset order.
    """

    dependencies = [("files", "0007_storage_objects_deleted_releases_through_billing")]

    operations = [
        migrations.RemoveIndex(model_name="storageobject", name="storage_objects_expiry_idx"),
        migrations.RemoveField(model_name="storageobject", name="deleted_at"),
        migrations.AddIndex(
            model_name="storageobject",
            index=models.Index(fields=["expires_at", "id"], name="storage_objects_expiry_idx"),
        ),
    ]
