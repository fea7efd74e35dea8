from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [
        ("versatools", "0001_sql_functions"),
        ("files", "0001_initial"),
    ]

    operations = [RunSQLFile("cascade/files")]
