"""The tool catalog: GET /api/tools, the Feature switch a run start obeys, the admin's checks, load_catalog."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import AdminSettings, CreditBalance, Plan, Subscription
from billing.selectors import tool_pricing
from files.tests.conftest import fs_storage  # noqa: F401
from history.models import History
from history.services import run_start
from tools.admin import FeatureForm
from tools.models import Feature
from tools.registry import all_tools
from tools.tests.test_tools import pdf_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.both_dialects]


@pytest.fixture
def catalog() -> None:
    call_command("load_catalog", stdout=io.StringIO())


def test_load_catalog_gives_every_registered_tool_its_feature_and_keeps_an_operators_edit(catalog) -> None:
    assert set(Feature.objects.values_list("tool_id", flat=True)) == {tool.id for tool in all_tools()}
    Feature.objects.filter(tool_id="pdf-merge").update(name="Combine PDFs")
    call_command("load_catalog", stdout=io.StringIO())
    assert Feature.objects.get(tool_id="pdf-merge").name == "Combine PDFs"


def test_the_catalog_lists_enabled_tools_with_prices_types_counts_and_the_callers_standing(
    client, catalog, make_user
) -> None:
    user = make_user("catalog@example.com")
    client.force_login(user)
    AdminSettings.objects.update_or_create(
        id=AdminSettings.SINGLETON_ID, defaults={"feature_costs": {"pdf-merge": 5}, "disabled_tools": ["pdf-compress"]}
    )
    Feature.objects.filter(tool_id="image-convert").update(active=False)
    run_start(user_id=user.id, tool_id="pdf-merge", input_file_name="a.pdf", input_bytes=10, idempotency_key="k1")

    response = client.get("/api/tools")

    assert response.status_code == 200
    body = response.json()
    tools = {tool["id"]: tool for tool in body["tools"]}
    assert list(tools) == ["pdf-merge", "image-compress"]  # the operator's switch and the Feature's, in sort order
    merge = tools["pdf-merge"]
    assert merge["name"] == "PDF Merger" and merge["workspace"] == "PDF" and merge["icon"]
    assert merge["credit_cost"] == 5 and merge["accepted_types"] == ["application/pdf"]
    assert (merge["min_files"], merge["max_files"]) == (1, 10)
    limits = body["limits"]
    free = Plan.objects.get(key="free")
    assert limits["plan_key"] == "free" and limits["max_file_bytes"] == free.max_file_bytes
    assert limits["runs_per_window"] == free.runs_per_window and limits["runs_used"] == 1
    assert limits["credits_remaining"] == CreditBalance.objects.get(user=user).credits_remaining == free.credits - 5
    tomorrow = (timezone.now() + timedelta(days=1)).date()
    assert limits["window_resets_at"].startswith(tomorrow.isoformat())
    assert body["upload"] == "multipart"


def test_the_catalog_needs_a_caller(client, catalog) -> None:
    response = client.get("/api/tools")
    assert response.status_code == 401 and response.json()["error"] == "not_authenticated"


def test_a_switched_off_feature_refuses_new_runs_and_changes_nothing(catalog, make_user) -> None:
    user = make_user("off@example.com")
    Feature.objects.filter(tool_id="pdf-compress").update(active=False)
    credits_before = CreditBalance.objects.get(user=user).credits_remaining

    with pytest.raises(Exception) as refused:
        run_start(user_id=user.id, tool_id="pdf-compress", input_file_name="a.pdf", input_bytes=1, idempotency_key="k")

    assert getattr(refused.value, "code", None) == "tool_disabled"
    assert not History.objects.filter(user=user).exists()
    assert CreditBalance.objects.get(user=user).credits_remaining == credits_before
    assert not tool_pricing(tool_id="pdf-compress", default_cost=1).enabled
    assert tool_pricing(tool_id="pdf-merge", default_cost=2).enabled


def test_the_admin_form_refuses_an_unknown_tool_and_tags_that_are_not_a_list_of_words(catalog) -> None:
    base = {"name": "X", "description": "", "workspace": "PDF", "icon": "", "active": True, "sort_order": 0}
    unknown = FeatureForm(data={**base, "tool_id": "no-such-tool", "tags": "[]"})
    assert not unknown.is_valid() and "tool_id" in unknown.errors
    bad_tags = FeatureForm(
        data={**base, "tool_id": "pdf-merge", "tags": '"pdf"'}, instance=Feature(tool_id="pdf-merge")
    )
    assert not bad_tags.is_valid() and "tags" in bad_tags.errors
    good = FeatureForm(
        data={**base, "tool_id": "pdf-merge", "tags": '[" pdf ", "merge"]'},
        instance=Feature.objects.get(tool_id="pdf-merge"),
    )
    assert good.is_valid(), good.errors
    assert good.save().tags == ["pdf", "merge"]


def test_a_used_up_window_answers_429_with_when_it_resets(client, catalog, make_user, fs_storage) -> None:  # noqa: F811
    user = make_user("quota@example.com")
    client.force_login(user)
    plan = Plan.objects.create(key="tiny", name="Tiny", credits=100, runs_per_window=1, usage_window="day")
    Subscription.objects.filter(user=user).update(plan=plan, status="active")
    run_start(user_id=user.id, tool_id="pdf-merge", input_file_name="a.pdf", input_bytes=10, idempotency_key="q1")
    response = client.post(
        "/api/runs",
        {"tool_id": "pdf-merge", "file": io.BytesIO(pdf_bytes(1))},
        headers={"Idempotency-Key": "q2"},
    )

    assert response.status_code == 429, response.content
    body = response.json()
    assert body["error"] == "quota_exceeded"
    tomorrow = (timezone.now() + timedelta(days=1)).date()
    assert body["resets_at"].startswith(tomorrow.isoformat())
    assert 0 < int(response["Retry-After"]) <= 86400
    assert History.objects.filter(user=user).count() == 1
