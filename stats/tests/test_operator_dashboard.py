from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from files.models import StorageObject
from history.services import run_complete, run_fail, run_mark_processing, run_start
from stats.operator_selectors import (
    expiring_soon,
    runs_per_day_per_tool,
    status_mix_per_tool,
    storage_per_tool,
    top_users,
)

pytestmark = pytest.mark.django_db

URL = "/admin/operator-dashboard/"


def finished(user, key: str, tool_id: str = "pdf-merge", fail: bool = False):
    run = run_start(user_id=user.id, tool_id=tool_id, input_file_name="a.pdf", input_bytes=10, idempotency_key=key).run
    run_mark_processing(run_id=run.id)
    if fail:
        run_fail(run_id=run.id, error_message="broken")
    else:
        run_complete(run_id=run.id, output_file_name="b.pdf", bytes_out=5)
    return run


def stored(run, size: int, expires_in: timedelta):
    return StorageObject.objects.create(
        user_id=run.user_id,
        run=run,
        key=f"{run.id}-{size}",
        original_name="b.pdf",
        content_type="application/pdf",
        size=size,
        expires_at=timezone.now() + expires_in,
    )


@pytest.fixture
def data(make_user):
    heavy, light = make_user("heavy@example.com"), make_user("light@example.com")
    runs = [finished(heavy, f"h{i}", fail=i == 0) for i in range(4)]
    runs.append(finished(light, "l0", tool_id="image-compress"))
    stored(runs[1], 1000, timedelta(hours=2))
    stored(runs[2], 500, timedelta(days=3))
    stored(runs[4], 70, timedelta(hours=-1))
    return heavy, light, runs


@pytest.mark.both_dialects
def test_selectors_add_up(data) -> None:
    daily = runs_per_day_per_tool()
    assert len(daily.days) == 30 and daily.days[-1] == timezone.now().date()
    assert daily.by_tool == {"image-compress": [0] * 29 + [1], "pdf-merge": [0] * 29 + [4]}
    mix = {row.tool_id: row for row in status_mix_per_tool()}
    assert (mix["pdf-merge"].completed, mix["pdf-merge"].failed, mix["pdf-merge"].failure_rate) == (3, 1, 0.25)
    assert {(row.tool_id, row.objects, row.bytes) for row in storage_per_tool()} == {
        ("pdf-merge", 2, 1500),
        ("image-compress", 1, 70),
    }
    soon = expiring_soon()
    assert (soon.objects_next_24h, soon.bytes_next_24h, soon.objects_overdue) == (1, 1000, 1)
    assert soon.runs_next_24h == 5  # the default retention is 24 hours
    assert [(row.email, row.total_used) for row in top_users()] == [("heavy@example.com", 4), ("light@example.com", 1)]


@pytest.mark.both_dialects
def test_page_shows_svg_charts_in_the_admin_with_few_queries(client, data, make_user, django_assert_max_num_queries):
    client.force_login(make_user("op@example.com", is_staff=True, is_superuser=True))
    with django_assert_max_num_queries(11):  # the session, the user, seven selectors
        response = client.get(URL)
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("<svg xmlns=") >= 4
    assert 'id="site-name"' in page  # the admin's base template
    assert "heavy@example.com" in page and "25.0% failed" in page
    assert 'id="objects-next-24h">1<' in page


def test_page_is_staff_only(client, make_user) -> None:
    client.force_login(make_user())
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_the_view_permission_is_refused(client, make_user) -> None:
    client.force_login(make_user(is_staff=True))
    assert client.get(URL).status_code == 403


@pytest.mark.both_dialects
def test_credits_per_day_and_subscriptions_per_plan_add_up(make_user) -> None:
    from billing.models import Plan, Subscription
    from billing.services import credit_balance_open, credits_adjust
    from stats.operator_selectors import credits_per_day, subscriptions_per_plan_and_status

    pro, _ = Plan.objects.update_or_create(
        key="pro", defaults={"name": "Pro", "credits": 100, "price_monthly_cents": 1900, "currency": "EUR"}
    )
    payer, lapsed = make_user(), make_user()
    for person, status in ((payer, "active"), (lapsed, "cancelled")):
        credit_balance_open(user_id=person.id, credits=10)
        Subscription.objects.update_or_create(user=person, defaults={"plan": pro, "status": status})
    finished(payer, "a")  # pdf-merge: 2 credits
    finished(payer, "b", fail=True)  # charged, then refunded
    credits_adjust(user_id=lapsed.id, delta=5, reason="sorry", idempotency_key="g")

    today = credits_per_day()[-1]
    counts = {
        (row.plan, row.status): (row.subscriptions, row.monthly_cents) for row in subscriptions_per_plan_and_status()
    }

    # Granted: the two opening balances (10 each, ledger grants) and the 5.
    assert (today.spent, today.refunded, today.granted) == (2, 2, 25)
    assert counts[("Pro", "active")] == (1, 1900) and counts[("Pro", "cancelled")] == (1, 0)
