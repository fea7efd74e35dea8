from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [
        ("versatools", "0001_sql_functions"),
        ("accounts", "0001_initial"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [RunSQLFile("cascade/accounts")]
