from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    dependencies: list[tuple[str, str]] = []

    operations = [RunSQLFile("functions/set_fk_on_delete")]
