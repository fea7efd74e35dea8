from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_row_level_security"),
    ]

    operations = [RunSQLFile("rls/billing_plans_subscribed")]
