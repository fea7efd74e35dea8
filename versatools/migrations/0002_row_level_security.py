from django.db import migrations

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    """Supabase's roles and auth functions where missing, and RLS on Django's own tables.

    Depends on the contrib apps' latest migrations so that their tables exist;
    every app's RLS migration depends on this one for the roles and auth.uid().
    """

    dependencies = [
        ("versatools", "0001_sql_functions"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        RunSQLFile("rls/roles"),
        RunSQLFile("rls/auth_schema"),
        RunSQLFile("rls/updated_at/function"),
        RunSQLFile("rls/functions"),
        RunSQLFile("rls/django"),
    ]
