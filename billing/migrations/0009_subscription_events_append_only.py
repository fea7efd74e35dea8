import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.migration_ops import ReapplySQLFile, RunSQLFile


class Migration(migrations.Migration):
    """subscription_events outlive their user (user_id as plain data, no foreign key) and are append-only."""

    dependencies = [
        ("billing", "0008_subscription_events_provider_event_id"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Going back, after Django restores the constraint: its ON DELETE CASCADE too.
        ReapplySQLFile("cascade/subscription_events_user", forwards=False),
        migrations.AlterField(
            model_name="subscriptionevent",
            name="user",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="subscription_events",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        RunSQLFile("triggers/subscription_events_append_only"),
    ]
