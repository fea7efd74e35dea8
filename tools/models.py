"""The catalog entry of a tool: what the tool hub shows of it, edited by operators in the admin.

Seed 001/002's ``Feature`` record. The code registry (``tools/registry.py``)
stays the source of what can run: a Feature names a registered tool by its
``tool_id`` and says how the hub presents it (name, description, icon,
section, tags) and whether it is offered at all. A registered tool without a
Feature row is shown with the registry's name and description; a Feature
whose tool is not registered is never shown (it cannot run).
"""

from __future__ import annotations

import uuid

from django.db import models


class Feature(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tool_id = models.SlugField(max_length=64, unique=True, help_text="The tool's id in tools/registry.py.")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    # Seed 001's workspaceId: teams were removed in seed 002, so here it is the
    # hub's section the card is grouped under ("PDF", "Images").
    workspace = models.CharField(max_length=64, blank=True, help_text="The section of the tool hub, e.g. PDF.")
    tags = models.JSONField(default=list, blank=True, help_text='A list of words, e.g. ["merge", "pdf"].')
    # The card's picture, by name (templates/hub/_icon.html: merge, compress, image, convert);
    # inline SVG, decorative, so hidden from screen readers. Another name shows a plain tile.
    icon = models.CharField(max_length=32, blank=True, help_text="merge, compress, image or convert.")
    active = models.BooleanField(
        default=True, help_text="Offered in the hub and startable; off, the API refuses new runs of it (403)."
    )
    sort_order = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "features"
        ordering = ("sort_order", "name")
        indexes = [models.Index(fields=["workspace"], name="features_workspace_idx")]

    def __str__(self) -> str:
        return self.name
