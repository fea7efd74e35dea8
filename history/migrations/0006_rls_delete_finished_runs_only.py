from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [
        ("history", "0005_drop_redundant_user_index"),
    ]

    operations = [RunSQLFile("rls/history_delete_finished")]
