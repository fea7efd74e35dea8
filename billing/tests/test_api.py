from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_plans_lists_active_plans_in_sort_order_for_anyone(client) -> None:
    call_command("loaddata", "fixtures/plans.json", verbosity=0)
    from billing.models import Plan

    Plan.objects.create(key="legacy", name="Legacy", credits=1, active=False, sort_order=-5)

    response = client.get("/api/plans")

    assert response.status_code == 200
    assert [plan["key"] for plan in response.json()] == ["free", "basic", "pro"]
    assert response.json()[2]["highlight"] is True
