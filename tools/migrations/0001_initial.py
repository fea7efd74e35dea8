import uuid

from django.db import migrations, models

from core.migration_ops import RunSQLFile


class Migration(migrations.Migration):
    """The tool catalog (seed 001/002's Feature), public to read like the plans, with its RLS."""

    initial = True

    dependencies = [
        # versatools_set_updated_at() and the Supabase roles.
        ("versatools", "0002_row_level_security"),
    ]

    operations = [
        migrations.CreateModel(
            name="Feature",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                (
                    "tool_id",
                    models.SlugField(help_text="The tool's id in tools/registry.py.", max_length=64, unique=True),
                ),
                ("name", models.CharField(max_length=100)),
                ("description", models.TextField(blank=True)),
                (
                    "workspace",
                    models.CharField(blank=True, help_text="The section of the tool hub, e.g. PDF.", max_length=64),
                ),
                (
                    "tags",
                    models.JSONField(blank=True, default=list, help_text='A list of words, e.g. ["merge", "pdf"].'),
                ),
                ("icon", models.CharField(blank=True, help_text="merge, compress, image or convert.", max_length=32)),
                (
                    "active",
                    models.BooleanField(
                        default=True,
                        help_text="Offered in the hub and startable; off, the API refuses new runs of it (403).",
                    ),
                ),
                ("sort_order", models.IntegerField(default=0)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "db_table": "features",
                "ordering": ("sort_order", "name"),
                "indexes": [models.Index(fields=["workspace"], name="features_workspace_idx")],
            },
        ),
        RunSQLFile("rls/tools"),
        RunSQLFile("rls/updated_at/tools"),
    ]
