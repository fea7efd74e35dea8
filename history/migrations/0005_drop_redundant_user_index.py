import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.migration_ops import ReapplySQLFile


class Migration(migrations.Migration):
    dependencies = [
        ("history", "0004_history_created_idx"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # AlterField recreates the foreign key without ON DELETE CASCADE: reapply it.
    operations = ReapplySQLFile.around(
        migrations.AlterField(
            model_name="history",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="runs",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        "cascade/history",
    )
