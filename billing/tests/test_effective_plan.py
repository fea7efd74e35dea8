"""One rule decides a user's plan: what the dashboard shows is what the limits enforce."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from billing.models import Plan, Subscription, SubscriptionStatus
from billing.selectors import ENTITLED_STATUSES, FREE_PLAN_KEY, effective_plan, run_start_context
from billing.services import credit_balance_open
from core.sqlfiles import read_sql
from files.tests.conftest import fs_storage  # noqa: F401
from history.selectors import MULTIPART_FORM_OVERHEAD_BYTES, MULTIPART_PART_OVERHEAD_BYTES, run_upload_body_limit
from tools.registry import all_tools

MB = 1024 * 1024
PNG_OF_2_MB = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * (2 * MB)

pytestmark = pytest.mark.django_db


@pytest.fixture
def plans():
    free = Plan.objects.create(key="free", name="Free", credits=5, max_file_bytes=1 * MB, storage_bytes=10 * MB)
    pro = Plan.objects.create(key="pro", name="Pro", credits=50, max_file_bytes=20 * MB, storage_bytes=10_000 * MB)
    return free, pro


def on_pro(user, pro, status: str, **fields) -> None:
    Subscription.objects.update_or_create(user=user, defaults={"plan": pro, "status": status, **fields})


NOW = timezone.now()
STATES = [
    ("trial, not over", dict(status=SubscriptionStatus.TRIAL, trial_ends_at=NOW + timedelta(days=3)), "pro"),
    ("trial without an end", dict(status=SubscriptionStatus.TRIAL, trial_ends_at=None), "pro"),
    ("trial, over", dict(status=SubscriptionStatus.TRIAL, trial_ends_at=NOW - timedelta(minutes=1)), "free"),
    ("active", dict(status=SubscriptionStatus.ACTIVE, current_period_end=NOW + timedelta(days=20)), "pro"),
    ("past due (grace)", dict(status=SubscriptionStatus.PAST_DUE), "pro"),
    ("cancelled", dict(status=SubscriptionStatus.CANCELLED), "free"),
    ("expired", dict(status=SubscriptionStatus.EXPIRED), "free"),
]


@pytest.mark.parametrize(("state", "fields", "expected"), STATES, ids=[s[0] for s in STATES])
def test_the_dashboard_shows_the_plan_that_is_enforced(client, user, bearer, plans, state, fields, expected):
    free, pro = plans
    on_pro(user, pro, **fields)
    wanted = pro if expected == "pro" else free

    plan = effective_plan(user_id=user.id)
    dashboard = client.get("/api/dashboard", headers=bearer(user)).json()

    assert plan.limits.plan_key == wanted.key and plan.name == wanted.name
    assert dashboard["plan"]["key"] == wanted.key and dashboard["plan"]["name"] == wanted.name
    assert dashboard["storage"]["limit_bytes"] == wanted.storage_bytes
    # The same rule inside the run start's single query and the upload limit.
    assert run_start_context(user_id=user.id, tool_id="image-compress", default_cost=1).limits == plan.limits
    most_files = max(tool.max_inputs for tool in all_tools())
    assert run_upload_body_limit(limits=effective_plan(user_id=user.id).limits) == (
        most_files * (wanted.max_file_bytes + MULTIPART_PART_OVERHEAD_BYTES) + MULTIPART_FORM_OVERHEAD_BYTES
    )


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_pro_user_is_held_to_the_free_upload_limit(client, user, bearer, plans, fs_storage):  # noqa: F811
    free, pro = plans
    on_pro(user, pro, status=SubscriptionStatus.CANCELLED)
    credit_balance_open(user_id=user.id, credits=10)

    response = client.post(
        "/api/runs",
        data={"tool_id": "image-compress", "file": SimpleUploadedFile("big.png", PNG_OF_2_MB, "image/png")},
        headers={**bearer(user), "Idempotency-Key": "k"},
    )

    assert response.status_code == 413, response.content
    assert client.get("/api/dashboard", headers=bearer(user)).json()["plan"]["key"] == "free"


def test_without_any_plan_the_built_in_defaults_apply(user):
    assert not Plan.objects.exists()
    plan = effective_plan(user_id=user.id)
    assert plan.name == "Free" and plan.limits.plan_key == FREE_PLAN_KEY


def test_the_sql_rule_names_the_statuses_and_the_free_plan_python_names():
    rule = read_sql("queries/fragments/effective_plan")
    for status in ENTITLED_STATUSES:
        assert f"'{status}'" in rule
    for status in set(SubscriptionStatus.values) - set(ENTITLED_STATUSES):
        assert f"'{status}'" not in rule
    assert f"plan.key = '{FREE_PLAN_KEY}'" in rule
