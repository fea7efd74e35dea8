"""The operator admin, the Bento page and a first sign-up, driven in headless Chromium against a live server.

Debian's ``chromium`` and ``chromium-driver`` (``scripts/ensure-browser.sh``,
run by ``make test``); nothing is downloaded at test time. Screenshots land
in ``test-artifacts/``.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from accounts.models import User
from accounts.selectors import email_is_verified
from accounts.services import operator_ensure
from billing.models import CreditBalance, CreditLedgerEntry
from billing.services import credits_adjust
from demo.samples import sample_output
from history.models import History, RunStatus
from history.services import run_start

# Chromium through Selenium against a live server.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
LAPTOP, PHONE = (1280, 900), (390, 844)


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="versatools-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(autouse=True)
def fresh_browser(browser):
    browser.delete_all_cookies()
    viewport(browser, *LAPTOP)


@pytest.fixture
def demo(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    call_command("seed_demo", "--users", "6", "--runs", "400", "--files", "10", stdout=io.StringIO())


def viewport(driver, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def wait(driver, condition, timeout: float = 10):
    return WebDriverWait(driver, timeout).until(condition)


def log_in(driver, url: str, email: str, password: str) -> None:
    driver.get(url)
    # The admin's own login form names the field "username"; the site's (allauth's) "login".
    field = "id_login" if driver.find_elements(By.ID, "id_login") else "id_username"
    driver.find_element(By.ID, field).send_keys(email)
    driver.find_element(By.ID, "id_password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "[type=submit]").click()


def test_operator_filters_history_fails_a_run_with_refund_and_sees_the_charts(browser, live_server, demo, make_user):
    operator_ensure(email="op@example.com", password="op-password-1")
    customer = make_user("customer@example.com")  # starts with the Free plan's 20 credits (seed_demo loaded it)
    run = run_start(
        user_id=customer.id,
        tool_id="pdf-merge",
        input_file_name="browser-proof.pdf",
        input_bytes=2048,
        idempotency_key="browser",
    ).run

    log_in(browser, f"{live_server.url}/admin/login/?next=/admin/history/history/", "op@example.com", "op-password-1")
    wait(browser, ec.presence_of_element_located((By.ID, "result_list")))
    search = browser.find_element(By.ID, "searchbar")
    search.send_keys("browser-proof\n")
    wait(browser, ec.url_contains("q=browser-proof"))
    browser.find_element(By.CSS_SELECTOR, '#changelist-filter a[href*="status__exact=PENDING"]').click()
    wait(browser, ec.url_contains("status__exact=PENDING"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1 and "customer@example.com" in rows[0].text and "PENDING" in rows[0].text
    browser.save_screenshot(str(ARTIFACTS / "admin-history-filtered.png"))

    rows[0].find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("mark_failed_with_refund")
    browser.find_element(By.CSS_SELECTOR, 'button[name="index"]').click()
    message = wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li")))
    assert "1 run(s) marked failed" in message.text

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert CreditLedgerEntry.objects.filter(idempotency_key=f"refund:{run.id}", credits=-2).exists()
    browser.get(f"{live_server.url}/admin/history/history/?q=browser-proof")
    badge = browser.find_element(By.CSS_SELECTOR, "#result_list .run-status")
    assert badge.get_attribute("data-status") == "FAILED"
    browser.save_screenshot(str(ARTIFACTS / "admin-history-after-action.png"))

    browser.get(f"{live_server.url}/admin/")
    browser.find_element(By.CSS_SELECTOR, "#operator-dashboard-link a").click()
    wait(browser, ec.presence_of_element_located((By.ID, "operator-dashboard")))
    charts = browser.find_elements(By.CSS_SELECTOR, "#operator-dashboard svg.chart")
    assert len(charts) == 4
    for chart in charts:
        assert chart.size["width"] > 200 and chart.size["height"] > 30
    assert len(browser.find_elements(By.CSS_SELECTOR, "#runs-per-day rect.bar")) >= 20  # 400 runs over 30 days
    assert browser.find_elements(By.CSS_SELECTOR, "#status-mix rect.bar[data-status=failed]")
    assert "pdf-merge" in browser.find_element(By.ID, "storage").text
    browser.set_window_size(1280, 1400)
    viewport(browser, 1280, 1400)
    browser.save_screenshot(str(ARTIFACTS / "admin-operator-dashboard.png"))


def test_a_user_sees_only_their_own_tiles_on_laptop_and_phone(browser, live_server, demo, make_user):
    me = make_user("me@example.com")
    me.set_password("me-password-1")
    me.save(update_fields=["password"])
    other = make_user("other@example.com")
    # New users start with the Free plan's 20 credits (account_open); grants on top.
    credits_adjust(user_id=me.id, delta=42 - 20, reason="test")
    credits_adjust(user_id=other.id, delta=777 - 20, reason="test")
    mine = [
        run_start(
            user_id=me.id, tool_id=tool, input_file_name=f"my-{i}.pdf", input_bytes=100, idempotency_key=f"m{i}"
        ).run
        for i, tool in enumerate(["pdf-merge", "pdf-compress", "pdf-merge"])
    ]
    theirs = run_start(
        user_id=other.id,
        tool_id="image-convert",
        input_file_name="their-secret.png",
        input_bytes=9,
        idempotency_key="o",
    ).run
    someone_elses = {str(run_id) for run_id in History.objects.exclude(user=me).values_list("id", flat=True)}

    log_in(browser, f"{live_server.url}/dashboard/", "me@example.com", "me-password-1")
    bento = wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, "#bento[data-state=ready]")))
    assert browser.current_url == f"{live_server.url}/dashboard/"

    assert bento.find_element(By.CSS_SELECTOR, '[data-field="credits"]').text == f"{42 - 2 - 1 - 2}"
    shown_runs = [li.get_attribute("data-run-id") for li in bento.find_elements(By.CSS_SELECTOR, "#tile-recent li.run")]
    assert shown_runs == [str(run.id) for run in reversed(mine)]
    assert not someone_elses & set(shown_runs)
    usage = {li.get_attribute("data-tool"): li.text for li in bento.find_elements(By.CSS_SELECTOR, "#tile-usage li")}
    assert set(usage) == {"pdf-merge", "pdf-compress"} and usage["pdf-merge"].endswith("2")
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "their-secret.png" not in page and "777" not in page and "image-convert" not in page
    assert str(theirs.id) not in browser.page_source
    assert len(bento.find_elements(By.CSS_SELECTOR, "#tile-expiring li[data-run-id]")) == 3

    tiles = {tile.get_attribute("id"): tile.rect for tile in bento.find_elements(By.CSS_SELECTOR, "section.tile")}
    assert (
        tiles["tile-credits"]["y"] == tiles["tile-plan"]["y"] and tiles["tile-credits"]["x"] < tiles["tile-plan"]["x"]
    )
    assert tiles["tile-recent"]["width"] > 1.5 * tiles["tile-credits"]["width"]
    browser.save_screenshot(str(ARTIFACTS / "bento-1280.png"))

    viewport(browser, *PHONE)
    browser.refresh()
    bento = wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, "#bento[data-state=ready]")))
    tiles = [tile.rect for tile in bento.find_elements(By.CSS_SELECTOR, "section.tile")]
    assert len({round(rect["x"]) for rect in tiles}) == 1  # one column
    assert all(rect["width"] <= PHONE[0] for rect in tiles)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]  # no sideways scroll
    viewport(browser, PHONE[0], 2000)
    browser.save_screenshot(str(ARTIFACTS / "bento-390.png"))


# Starts a run from the signed-in page the way the site's own script would:
# multipart with the session cookie, the CSRF token from its cookie and an
# Idempotency-Key. The page has no run UI yet.
START_A_RUN = """
const [pngBase64, key, done] = arguments;
const bytes = Uint8Array.from(atob(pngBase64), (c) => c.charCodeAt(0));
const form = new FormData();
form.append("tool_id", "image-compress");
form.append("file", new Blob([bytes], {type: "image/png"}), "first.png");
const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken=")).split("=")[1];
fetch("/api/runs", {method: "POST", body: form, credentials: "same-origin",
                    headers: {"X-CSRFToken": csrf, "Idempotency-Key": key}})
  .then(async (response) => done({status: response.status, body: await response.json()}))
  .catch((error) => done({status: 0, body: String(error)}));
"""
READ_A_RUN = """
const [runId, done] = arguments;
fetch("/api/history/" + runId, {credentials: "same-origin"})
  .then(async (response) => done({status: response.status, body: await response.json()}));
"""


def test_a_new_person_signs_up_verifies_signs_in_and_starts_a_first_run(
    browser, live_server, settings, tmp_path, mailoutbox
):
    from django.core.cache import cache

    cache.clear()  # allauth's per-IP rate limits
    call_command("load_catalog", stdout=io.StringIO())  # the free plan a new account opens on
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    email, password = "first-timer@example.com", "a-long-Passphrase-42"
    png = base64.b64encode(sample_output("image-compress")[2]).decode()
    browser.set_script_timeout(30)

    # Sign up.
    browser.get(f"{live_server.url}/accounts/signup/")
    browser.save_screenshot(str(ARTIFACTS / "account-signup.png"))
    browser.find_element(By.ID, "id_email").send_keys(email)
    browser.find_element(By.ID, "id_password1").send_keys(password)
    browser.find_element(By.ID, "id_password2").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "#signup-form [type=submit]").click()
    wait(browser, ec.url_to_be(f"{live_server.url}/dashboard/"))
    user = User.objects.get(email=email)
    assert CreditBalance.objects.get(user=user).credits_remaining == 20

    # Signed in but unverified: the API refuses the run, and says why.
    refused = browser.execute_async_script(START_A_RUN, png, "first-run")
    assert refused == {
        "status": 403,
        "body": {"error": "email_unverified", "detail": "Verify your email address before starting a run."},
    }

    # The link in the mail, then allauth's confirmation button.
    [message] = mailoutbox
    link = re.search(r"http://\S+/accounts/confirm-email/\S+/", message.body).group(0)
    browser.get(link)
    browser.find_element(By.CSS_SELECTOR, "main form [type=submit]").click()
    wait(browser, lambda driver: email_is_verified(user_id=user.id))

    # Sign out, and in again.
    browser.get(f"{live_server.url}/dashboard/")
    browser.find_element(By.CSS_SELECTOR, ".topbar form [type=submit]").click()
    wait(browser, ec.url_contains("/accounts/login/"))
    browser.save_screenshot(str(ARTIFACTS / "account-signin.png"))
    log_in(browser, f"{live_server.url}/accounts/login/", email, password)
    wait(browser, ec.url_to_be(f"{live_server.url}/dashboard/"))
    assert browser.find_element(By.ID, "user-email").text == email

    # The first run: accepted, charged once, and (no broker: processed in the request) done.
    started = browser.execute_async_script(START_A_RUN, png, "first-run")
    assert started["status"] == 201, started
    assert (started["body"]["tool_id"], started["body"]["input_file_name"]) == ("image-compress", "first.png")
    run = browser.execute_async_script(READ_A_RUN, started["body"]["id"])
    assert run["status"] == 200 and run["body"]["status"] == "COMPLETED", run
    assert CreditBalance.objects.get(user=user).credits_remaining == 19
