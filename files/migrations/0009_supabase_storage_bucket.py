from django.db import migrations


def install(apps, schema_editor):
    from files.services import storage_bucket_install

    plans = apps.get_model("billing", "Plan").objects.using(schema_editor.connection.alias).all()
    storage_bucket_install(using=schema_editor.connection.alias, plans=plans)


def uninstall(apps, schema_editor):
    from files.services import storage_bucket_uninstall

    storage_bucket_uninstall(using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    """Supabase mode (storage.objects exists): the app's bucket and per-user folder policies.

    sql/storage/supabase_bucket.sql with its parameters from the app's upload
    rules (files.selectors.storage_bucket_rules); PostgreSQL only, and nothing
    without Supabase's storage schema. Applied again after every migrate
    (files.apps), in case the storage server creates its schema later.
    """

    dependencies = [
        ("files", "0008_storage_objects_drop_deleted_at"),
        # The policies call auth.uid(), and the limit reads the plans.
        ("versatools", "0002_row_level_security"),
        ("billing", "0005_storage_usage_release"),
    ]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
