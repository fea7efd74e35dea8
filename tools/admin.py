"""The tool catalog in the operator admin: how each registered tool is presented, and whether it is offered."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from tools.models import Feature
from tools.registry import all_tools, get_tool


class FeatureForm(forms.ModelForm):
    """A feature names a registered tool (a typo would list nothing), and its tags are a list of words."""

    tool_id = forms.ChoiceField(choices=())

    class Meta:
        model = Feature
        fields = ("tool_id", "name", "description", "workspace", "tags", "icon", "active", "sort_order")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tool_field = self.fields["tool_id"]
        assert isinstance(tool_field, forms.ChoiceField)
        tool_field.choices = [(spec.id, f"{spec.id} ({spec.name})") for spec in all_tools()]

    def clean_tool_id(self) -> str:
        tool_id: str = self.cleaned_data["tool_id"]
        if get_tool(tool_id) is None:
            raise forms.ValidationError(f"There is no tool {tool_id!r} in tools/registry.py.")
        return tool_id

    def clean_tags(self) -> list[str]:
        tags = self.cleaned_data["tags"]
        if not isinstance(tags, list) or not all(isinstance(tag, str) and tag.strip() for tag in tags):
            raise forms.ValidationError('Tags are a list of words, e.g. ["pdf", "merge"].')
        return [tag.strip() for tag in tags]


@admin.register(Feature)
class FeatureAdmin(admin.ModelAdmin):
    form = FeatureForm
    list_display = ("name", "tool_id", "workspace", "active", "sort_order", "updated_at")
    list_filter = ("active", "workspace")
    list_editable = ("active", "sort_order")
    search_fields = ("name", "tool_id", "description")
    ordering = ("sort_order", "name")
