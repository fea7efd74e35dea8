from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    """Our auth stand-ins never block Supabase's auth server from migrating after us."""

    dependencies = [
        ("accounts", "0003_row_level_security"),
        ("versatools", "0002_row_level_security"),
    ]

    operations = [RunSQLFile("rls/auth_stand_ins_replaceable")]
