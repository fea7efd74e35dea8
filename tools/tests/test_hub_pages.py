"""The tool hub's pages through Django's test client: what each shows, to whom, and what bad input does.

The run page's own behaviour (drop, send, watch, download) is proven in a
real browser (``versatools/tests/test_hub_browser.py``); these pin the
server side: names not ids, the caller's rows only, filters and cursors,
the export's contents and a deletion that leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from billing.models import CreditLedgerEntry, Plan, Subscription
from billing.services import credits_adjust
from files.models import StorageDeletion, StorageObject
from files.tests.conftest import fs_storage  # noqa: F401
from history.models import History
from history.services import run_complete, run_mark_processing, run_start
from tools.models import Feature

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-Passphrase-42"


@pytest.fixture
def catalog() -> None:
    call_command("load_catalog", stdout=io.StringIO())


@pytest.fixture
def me(make_user, catalog):
    user = make_user("me@example.com")
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


def start(user, tool_id: str = "pdf-merge", name: str = "in.pdf", key: str | None = None) -> History:
    return run_start(
        user_id=user.id, tool_id=tool_id, input_file_name=name, input_bytes=100, idempotency_key=key or name
    ).run


def completed(user, name: str, tool_id: str = "pdf-merge") -> History:
    run = start(user, tool_id, name)
    run_mark_processing(run_id=run.id)
    run_complete(run_id=run.id, output_file_name=f"out-{name}", bytes_out=50, metadata={"pages": 2})
    return run


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.mark.both_dialects
def test_the_home_page_is_a_grid_of_tool_cards_for_visitors_and_people(client, me) -> None:
    Feature.objects.filter(tool_id="image-convert").update(active=False)
    visitor = client.get("/")
    assert visitor.status_code == 200
    cards = re.findall(r'class="tool-card" data-tool="([^"]+)"', visitor.content.decode())
    assert cards == ["pdf-merge", "pdf-compress", "image-compress"]
    assert "Sign up free" in visitor.content.decode()

    client.force_login(me)
    page = client.get("/")
    assert "20 credits left" in text(page) and "0 of 10 runs used this day" in text(page)
    assert client.get("/tools/image-convert/").status_code == 404  # switched off
    assert client.get("/tools/no-such-tool/").status_code == 404


@pytest.mark.both_dialects
def test_the_tool_page_carries_the_catalog_entry_and_the_callers_limits_for_its_script(client, me) -> None:
    assert client.get("/tools/pdf-merge/").status_code == 302  # sign in first
    client.force_login(me)
    response = client.get("/tools/pdf-merge/")
    assert response.status_code == 200
    config = json.loads(
        re.search(
            r'<script id="tool-config" type="application/json">(.*?)</script>', response.content.decode(), re.S
        ).group(1)
    )
    assert config["tool"]["id"] == "pdf-merge" and config["tool"]["max_files"] == 10
    assert config["tool"]["accepted_types"] == ["application/pdf"]
    assert config["limits"]["max_file_bytes"] == 10 * 1024 * 1024 and config["upload"] == "multipart"
    assert 'accept="application/pdf"' in response.content.decode()


def test_history_shows_only_my_runs_by_name_with_filters_and_cursor_pages(client, me, make_user) -> None:
    other = make_user("other@example.com")
    start(other, name="their-secret.pdf")
    credits_adjust(user_id=me.id, delta=100, reason="test")
    Subscription.objects.filter(user=me).update(plan=Plan.objects.get(key="pro"), status="active")  # unlimited runs
    mine = [start(me, "pdf-merge" if i % 2 else "image-compress", f"mine-{i}.pdf") for i in range(25)]
    client.force_login(me)

    first = client.get("/history/")
    assert first.status_code == 200
    body = first.content.decode()
    rows = re.findall(r'<tr data-run-id="([^"]+)"', body)
    assert rows == [str(run.id) for run in reversed(mine)][:20]
    assert "their-secret.pdf" not in body and "Image Compressor" in body
    older = re.search(r'id="older" href="\?cursor=([^"]+)"', body).group(1)
    second = client.get(f"/history/?cursor={older}")
    assert re.findall(r'<tr data-run-id="([^"]+)"', second.content.decode()) == [
        str(run.id) for run in reversed(mine[:5])
    ]

    merged = client.get("/history/?tool=pdf-merge&status=PENDING")
    ids = re.findall(r'<tr data-run-id="([^"]+)"', merged.content.decode())
    assert len(ids) == 12 and all(History.objects.get(id=i).tool_id == "pdf-merge" for i in ids)
    empty = client.get("/history/?status=COMPLETED")
    assert "No runs match these filters" in text(empty)


@pytest.mark.parametrize(
    ("query", "said"),
    [("status=DONE", "no status 'DONE'"), ("tool=nope", "no tool 'nope'"), ("cursor=garbage", "cursor")],
)
def test_history_says_what_is_wrong_with_a_bad_filter_or_cursor(client, me, query, said) -> None:
    client.force_login(me)
    response = client.get(f"/history/?{query}")
    assert response.status_code == 400
    assert said in text(response).replace("&#x27;", "'")


def test_a_new_person_sees_empty_states_that_say_what_to_do(client, me) -> None:
    client.force_login(me)
    assert "No runs yet. Pick a tool" in text(client.get("/history/"))
    usage = text(client.get("/usage/"))
    assert "No runs in the last 30 days" in usage
    # Their starting credits are the one ledger row.
    assert "Grant: starting credits" in usage


def test_usage_shows_the_window_the_ledger_by_tool_name_and_the_chart_with_its_table(client, me) -> None:
    completed(me, "a.pdf")
    completed(me, "b.png", tool_id="image-compress")
    client.force_login(me)

    response = client.get("/usage/")

    assert response.status_code == 200
    page = text(response)
    assert "2 of 10" in page and "Resets" in page
    assert "Tool run: PDF Merger" in page and "Tool run: Image Compressor" in page
    assert "−2" in page and "+20" in page  # a charge, the starting grant
    body = response.content.decode()
    assert 'class="chart ' in body and "PDF Merger" in body.split('id="usage-table"')[1]
    assert "2 runs" in page


def test_the_ledger_pages_by_cursor_and_a_bad_cursor_is_400(client, me) -> None:
    for i in range(24):
        credits_adjust(user_id=me.id, delta=1, reason=f"gift {i}")
    client.force_login(me)
    first = client.get("/usage/").content.decode()
    assert first.count('data-operation="') == 20
    cursor = re.search(r'id="ledger-older" href="\?ledger=([^"]+)"', first).group(1)
    second = client.get(f"/usage/?ledger={cursor}").content.decode()
    assert second.count('data-operation="') == 5  # 24 gifts and the starting grant
    assert client.get("/usage/?ledger=garbage").status_code == 400


def test_the_export_holds_my_data_and_nobody_elses(client, me, make_user) -> None:
    other = make_user("other@example.com")
    start(other, name="their-secret.pdf")
    completed(me, "mine.pdf")
    client.force_login(me)

    response = client.get("/account/export/")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="versatools-export-')
    data = json.loads(response.content)
    assert data["user"]["email"] == "me@example.com" and "password" not in data["user"]
    assert [run["input_file_name"] for run in data["runs"]] == ["mine.pdf"]
    assert {entry["operation_type"] for entry in data["credit_ledger"]} == {"grant", "tool_run"}
    assert data["subscription"]["plan__key"] == "free"
    assert "their-secret" not in response.content.decode()


def test_deleting_the_account_needs_the_password_and_then_leaves_nothing_but_owed_blob_deletes(
    client,
    me,
    fs_storage,  # noqa: F811
) -> None:
    run = start(me, name="kept.pdf")
    StorageObject.objects.create(
        user=me,
        run=run,
        key=f"{me.id}/input/kept.pdf",
        original_name="kept.pdf",
        content_type="application/pdf",
        size=3,
        expires_at=run.expires_at,
    )
    client.force_login(me)

    wrong = client.post("/account/delete/", {"confirmation": "not-it"})
    assert wrong.status_code == 400 and "That is not your password" in text(wrong)
    assert User.objects.filter(id=me.id).exists() and History.objects.filter(user=me).count() == 1

    right = client.post("/account/delete/", {"confirmation": PASSWORD})

    assert right.status_code == 302 and right["Location"] == "/"
    assert not User.objects.filter(id=me.id).exists()
    assert not History.objects.filter(user_id=me.id).exists()
    assert not CreditLedgerEntry.objects.filter(user_id=me.id).exists()
    assert StorageDeletion.objects.filter(key=f"{me.id}/input/kept.pdf").exists()
    assert client.get("/account/").status_code == 302  # signed out
    assert "Your account and all its files are deleted." in text(client.get("/"))


def test_an_operator_cannot_delete_their_account_from_the_page(client, catalog) -> None:
    operator = User.objects.create_superuser(email="op@example.com", password=PASSWORD)
    client.force_login(operator)
    response = client.post("/account/delete/", {"confirmation": PASSWORD})
    assert response.status_code == 409 and "another operator" in text(response)
    assert User.objects.filter(id=operator.id).exists()


@pytest.mark.both_dialects
def test_the_plans_page_marks_my_plan_and_offers_visitors_a_sign_up(client, me) -> None:
    visitor = client.get("/plans/").content.decode()
    assert re.findall(r'data-plan="([^"]+)"', visitor) == ["free", "basic", "pro"]
    assert "Your plan" not in visitor and "/accounts/signup/" in visitor
    client.force_login(me)
    mine = client.get("/plans/").content.decode()
    assert re.search(r'class="tile plan-card current" data-plan="free"', mine)
    assert "Your plan" in mine


def test_the_dashboard_api_names_tools_and_counts_the_window(client, me) -> None:
    completed(me, "a.pdf")
    client.force_login(me)
    data = client.get("/api/dashboard").json()
    assert data["tool_names"] == {"pdf-merge": "PDF Merger"}
    assert data["plan"]["runs_used"] == 1 and data["plan"]["window_resets_at"]


def test_a_signed_in_page_reads_as_the_person_under_row_level_security(client, me) -> None:
    client.force_login(me)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/history/").status_code == 200
    claims = [q["sql"] for q in queries.captured_queries if "set_config('role'" in q["sql"]]
    assert claims and "authenticated" in claims[0] and str(me.id) in claims[0]


def test_the_hub_groups_each_section_once_whatever_the_sort_order(client, me) -> None:
    Feature.objects.filter(tool_id="image-compress").update(sort_order=15)  # between the two PDF tools
    body = client.get("/").content.decode()
    assert re.findall(r'<h2 id="section-\d+">([^<]+)</h2>', body) == ["PDF", "Images"]


def test_a_plan_price_is_shown_to_the_cent(client, me) -> None:
    Plan.objects.filter(key="basic").update(price_monthly_cents=999)
    assert "USD 9.99" in text(client.get("/plans/"))


def test_an_account_a_provider_still_bills_is_not_deleted_and_wrong_guesses_are_limited(client, me) -> None:
    cache.clear()
    client.force_login(me)
    Subscription.objects.filter(user=me).update(provider_subscription_id="sub_123", status="active")
    refused = client.post("/account/delete/", {"confirmation": PASSWORD})
    assert refused.status_code == 409 and "Cancel your paid subscription first" in text(refused)
    assert User.objects.filter(id=me.id).exists()

    for _ in range(5):
        assert client.post("/account/delete/", {"confirmation": "guess"}).status_code == 400
    limited = client.post("/account/delete/", {"confirmation": PASSWORD})
    assert limited.status_code == 429 and "Too many wrong confirmations" in text(limited)
    assert User.objects.filter(id=me.id).exists()
    cache.clear()


def test_the_export_leaves_out_operators_and_provider_payloads(client, me) -> None:
    credits_adjust(user_id=me.id, delta=5, reason="goodwill", actor="op@example.com")
    client.force_login(me)
    data = json.loads(client.get("/account/export/").content)
    exported = json.dumps(data)
    assert "op@example.com" not in exported and "goodwill" in exported
    assert all(
        set(event) == {"plan_key", "status", "event_type", "occurred_at"} for event in data["subscription_events"]
    )
    assert data["linked_accounts"] == [] and data["usage_totals"] is None and data["usage_by_day"] == []
