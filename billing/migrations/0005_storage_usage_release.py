from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    """Billing's writer of storage quota given back, for many owners at once (called by files' trigger)."""

    dependencies = [
        ("billing", "0004_plans_select_subscribed"),
    ]

    operations = [RunSQLFile("functions/storage_usage_release")]
