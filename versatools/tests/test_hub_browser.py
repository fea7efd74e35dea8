"""The tool hub as a new person uses it: headless Chromium against gunicorn, a real Celery worker, PostgreSQL.

Sign up, run pdf-merge with two PDFs (from the file picker, double-clicked)
and image-compress with a PNG (dropped on the page), see COMPLETED, download
and open both outputs, delete one, see credits, window usage and the ledger
move; a 415 and a 402 shown as the API's own reasons. Every page is checked
by axe-core (no serious or critical violations) at laptop and phone width,
and photographed into ``test-artifacts/``.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from PIL import Image
from pypdf import PdfReader
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from accounts.models import User
from accounts.services import email_mark_verified
from billing.models import CreditBalance, CreditLedgerEntry
from billing.services import credits_adjust
from files.models import StorageObject
from files.tests.conftest import fs_storage, s3_server, s3_storage  # noqa: F401
from history.models import History, RunStatus
from history.tests.stack import Stack, running_stack
from tools.tests.test_tools import pdf_bytes, png_bytes
from versatools.tests.test_browser import ARTIFACTS, LAPTOP, PHONE, browser, viewport, wait  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "a-long-Passphrase-42"
# axe-core's impacts that fail the page.
FAILING_IMPACTS = {"serious", "critical"}


@pytest.fixture
def stack(fs_storage) -> Iterator[Stack]:  # noqa: F811
    call_command("load_catalog", stdout=io.StringIO())
    with running_stack(fs_storage.env) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_browser(browser):  # noqa: F811
    browser.delete_all_cookies()
    viewport(browser, *LAPTOP)


def axe_violations(driver) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each."""
    assert AXE.is_file(), "axe-core is missing: run scripts/ensure-browser.sh (npm ci)"
    driver.execute_script(AXE.read_text())
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations.map((v) =>"
        " ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3)}))));"
    )
    return [f"{v['id']} ({v['impact']}): {v['nodes']}" for v in found if v["impact"] in FAILING_IMPACTS]


def check_page(driver, name: str) -> None:
    """No serious accessibility finding, no sideways scrolling at 390 px, a screenshot at both widths."""
    assert axe_violations(driver) == [], name
    driver.save_screenshot(str(ARTIFACTS / f"hub-{name}-1280.png"))
    viewport(driver, *PHONE)
    assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0], name
    assert axe_violations(driver) == [], f"{name} at {PHONE[0]} px"
    driver.save_screenshot(str(ARTIFACTS / f"hub-{name}-390.png"))
    viewport(driver, *LAPTOP)


def drop_file(driver, name: str, content: bytes, content_type: str) -> None:
    """A file dropped on the drop zone, as a person dragging it from their desktop would."""
    driver.execute_script(
        "const [name, data, type] = arguments;"
        "const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));"
        "const transfer = new DataTransfer();"
        "transfer.items.add(new File([bytes], name, {type}));"
        "const zone = document.getElementById('dropzone');"
        "for (const kind of ['dragenter', 'dragover', 'drop']) {"
        "  zone.dispatchEvent(new DragEvent(kind, {dataTransfer: transfer, bubbles: true, cancelable: true}));"
        "}",
        name,
        base64.b64encode(content).decode(),
        content_type,
    )


def fetch_bytes(driver, url: str) -> tuple[int, bytes]:
    """GET through the page's own session (the download button's request), the body as bytes."""
    status, data = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(async (r) => {"
        "  const bytes = new Uint8Array(await r.arrayBuffer()); let text = '';"
        "  for (const b of bytes) text += String.fromCharCode(b);"
        "  done([r.status, btoa(text)]); });",
        url,
    )
    return status, base64.b64decode(data)


def wait_for_run(driver, state: str, timeout: float = 60) -> str:
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, f"#tool-page[data-state={state}]")), timeout)
    return driver.find_element(By.ID, "run").get_attribute("data-run-id")


def test_a_new_person_signs_up_runs_two_tools_downloads_deletes_and_sees_their_spending(
    browser,  # noqa: F811
    stack: Stack,
    tmp_path: Path,
) -> None:
    base = stack.base_url
    ARTIFACTS.mkdir(exist_ok=True)

    # Visitors see the tools and the plans.
    browser.get(f"{base}/")
    cards = browser.find_elements(By.CSS_SELECTOR, ".tool-card")
    assert [card.get_attribute("data-tool") for card in cards] == [
        "pdf-merge",
        "pdf-compress",
        "image-compress",
        "image-convert",
    ]
    check_page(browser, "tools-visitor")

    # Sign up.
    browser.get(f"{base}/accounts/signup/")
    browser.find_element(By.ID, "id_email").send_keys("newcomer@example.com")
    browser.find_element(By.ID, "id_password1").send_keys(PASSWORD)
    browser.find_element(By.ID, "id_password2").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "[type=submit]").click()
    wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, "#bento[data-state=ready]")))
    me = User.objects.get(email="newcomer@example.com")
    assert "pick a tool" in browser.find_element(By.ID, "tile-recent").text
    email_mark_verified(user_id=me.id, email=me.email)  # the link in the mail, followed

    # pdf-merge: two PDFs from the file picker, the button double-clicked.
    browser.get(f"{base}/")
    browser.find_element(By.CSS_SELECTOR, '.tool-card[data-tool="pdf-merge"] a').click()
    wait(browser, ec.url_contains("/tools/pdf-merge/"))
    first, second = tmp_path / "two-pages.pdf", tmp_path / "three-pages.pdf"
    first.write_bytes(pdf_bytes(2))
    second.write_bytes(pdf_bytes(3))
    browser.find_element(By.ID, "file-input").send_keys(f"{first}\n{second}")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chosen li")) == 2
    ActionChains(browser).double_click(browser.find_element(By.ID, "run-button")).perform()
    merged_id = wait_for_run(browser, "completed")
    assert History.objects.filter(user=me).count() == 1  # the double click made one run
    merged = History.objects.get(id=merged_id)
    assert merged.status == RunStatus.COMPLETED and merged.credits_charged == 2
    meta = browser.find_element(By.ID, "run-meta").text
    assert "Pages\n5" in meta and "Files merged\n2" in meta
    status, content = fetch_bytes(browser, browser.find_element(By.ID, "run-download").get_attribute("href"))
    assert status == 200 and len(PdfReader(io.BytesIO(content)).pages) == 5
    assert "credits left" in browser.find_element(By.CSS_SELECTOR, '[data-field="standing"]').text
    check_page(browser, "tool-completed")

    # image-compress: a 1 MP PNG dropped on the page.
    browser.get(f"{base}/tools/image-compress/")
    drop_file(browser, "photo.png", png_bytes(1000, 1000), "image/png")
    assert browser.find_element(By.CSS_SELECTOR, "#chosen li .name").text == "photo.png"
    browser.find_element(By.ID, "run-button").click()
    compressed_id = wait_for_run(browser, "completed")
    assert "Size after" in browser.find_element(By.ID, "run-meta").text
    status, content = fetch_bytes(browser, browser.find_element(By.ID, "run-download").get_attribute("href"))
    assert status == 200 and Image.open(io.BytesIO(content)).size == (1000, 1000)
    assert StorageObject.objects.filter(run_id=compressed_id).count() == 2  # its input and output

    # Delete it from the page: the run and its files go.
    browser.find_element(By.ID, "run-delete").click()
    wait(browser, ec.text_to_be_present_in_element((By.ID, "run-status"), "Deleted"))
    assert not History.objects.filter(id=compressed_id).exists()
    assert not StorageObject.objects.filter(run_id=compressed_id).exists()

    # Credits, the window and the ledger moved.
    assert CreditBalance.objects.get(user=me).credits_remaining == 20 - 2 - 1
    browser.get(f"{base}/usage/")
    assert browser.find_element(By.CSS_SELECTOR, '#usage-credits [data-field="credits"]').text == "17"
    assert browser.find_element(By.CSS_SELECTOR, '#usage-window [data-field="runs-used"]').text == "2"
    ledger = browser.find_element(By.ID, "ledger-table").text
    assert "Tool run: PDF Merger" in ledger and "Tool run: Image Compressor" in ledger and "−2" in ledger
    check_page(browser, "usage")

    browser.get(f"{base}/history/")
    rows = browser.find_elements(By.CSS_SELECTOR, ".runs-table tbody tr")
    assert [row.get_attribute("data-run-id") for row in rows] == [merged_id]
    assert "PDF Merger" in rows[0].text and "COMPLETED" in rows[0].text
    check_page(browser, "history")

    # 415: a PNG that calls itself a PDF passes the page's check by name; the server sniffs it.
    browser.get(f"{base}/tools/pdf-merge/")
    drop_file(browser, "not-really.pdf", png_bytes(20, 20), "application/pdf")
    browser.find_element(By.ID, "run-button").click()
    error = wait(browser, ec.visibility_of_element_located((By.ID, "form-error")))
    assert error.get_attribute("data-status") == "415" and "image/png, which is not accepted" in error.text
    # The page's own check: a type the tool does not take never leaves the browser.
    drop_file(browser, "notes.txt", b"hello", "text/plain")
    assert "notes.txt is not a PDF file" in browser.find_element(By.ID, "form-error").text

    # 402: no credits left.
    credits_adjust(user_id=me.id, delta=-17, reason="spent elsewhere")
    browser.get(f"{base}/tools/pdf-merge/")
    browser.find_element(By.ID, "file-input").send_keys(str(first))
    browser.find_element(By.ID, "run-button").click()
    error = wait(browser, ec.visibility_of_element_located((By.ID, "form-error")))
    assert error.get_attribute("data-status") == "402" and "Plans page" in error.text
    assert "credit" in error.text.lower()
    check_page(browser, "tool-error")
    assert History.objects.filter(user=me).count() == 1  # neither refusal made a run
    charges = CreditLedgerEntry.objects.filter(user=me, operation_type="tool_run")
    assert sorted(charges.values_list("credits", flat=True)) == [1, 2]  # the two runs, nothing for the refusals

    for name, path in (("tools", "/"), ("dashboard", "/dashboard/"), ("account", "/account/"), ("plans", "/plans/")):
        browser.get(f"{base}{path}")
        if name == "dashboard":
            wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, "#bento[data-state=ready]")))
            usage = browser.find_element(By.CSS_SELECTOR, "#tile-usage").text
            assert "PDF Merger" in usage and "pdf-merge" not in usage  # names, not ids
        check_page(browser, name)

    # The export is this person's data.
    status, content = fetch_bytes(browser, f"{base}/account/export/")
    exported = json.loads(content)
    assert status == 200 and [run["id"] for run in exported["runs"]] == [merged_id]


def test_the_accessibility_check_finds_what_it_is_there_to_find(browser) -> None:  # noqa: F811
    # The check above passes only because the pages are right: the same call flags a nameless button and
    # an image without alt text as critical.
    browser.get("data:text/html,<html lang=en><title>t</title><main><button></button><img src=x.png></main></html>")
    found = " ".join(axe_violations(browser))
    assert "button-name (critical)" in found and "image-alt (critical)" in found


@pytest.mark.parametrize("method", ["post", "put"])
def test_with_s3_storage_the_page_sends_the_files_straight_to_the_bucket(
    browser,  # noqa: F811
    s3_storage,  # noqa: F811
    make_user,
    tmp_path: Path,
    method: str,
) -> None:
    call_command("load_catalog", stdout=io.StringIO())
    me = make_user("direct@example.com")
    me.set_password(PASSWORD)
    me.save(update_fields=["password"])
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    first.write_bytes(pdf_bytes(1))
    second.write_bytes(pdf_bytes(4))
    with running_stack({**s3_storage.env, "DIRECT_UPLOAD_METHOD": method}) as stack:
        browser.get(f"{stack.base_url}/accounts/login/?next=/tools/pdf-merge/")
        browser.find_element(By.ID, "id_login").send_keys(me.email)
        browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "[type=submit]").click()
        wait(browser, ec.url_contains("/tools/pdf-merge/"))
        browser.find_element(By.ID, "file-input").send_keys(f"{first}\n{second}")
        browser.find_element(By.ID, "run-button").click()
        run_id = wait_for_run(browser, "completed")
        # The inputs were reserved uploads (POST /api/uploads), their bytes sent by the browser to the bucket.
        inputs = StorageObject.objects.filter(run_id=run_id, role="input")
        assert inputs.count() == 2 and all(obj.upload_writable_until for obj in inputs)
        # Two uploads from the browser (for PUT, and the worker's PUT of the output); nothing through Django.
        assert s3_storage.server.log.requests[method] == (2 if method == "post" else 3)
        status, content = fetch_bytes(browser, browser.find_element(By.ID, "run-download").get_attribute("href"))
        assert status == 200 and len(PdfReader(io.BytesIO(content)).pages) == 5
