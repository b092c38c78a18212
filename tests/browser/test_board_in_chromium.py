"""The floor's view in a real headless Chromium: log in, watch the board update live, acknowledge
and resolve with the buttons."""

import os
import shutil

import pytest

from incidents.models import Incident
from tests.base import Floor, post_alert, process

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(live_asgi, tmp_path):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; our ORM calls here are still
    # plain synchronous calls between its steps.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            base_url=live_asgi.url, viewport={"width": 1280, "height": 800}
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        context.close()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def log_in(page, username: str, password: str) -> None:
    page.goto("/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Open incidents")


def test_staff_watch_the_board_and_work_an_incident(page, client, tmp_path):
    floor = Floor()
    log_in(page, "alice", "pw-alice-123")
    page.wait_for_selector("[data-live-status].ok")
    assert page.is_visible("#board-empty")

    post_alert(
        client,
        floor.token,
        {"summary": "Core router cr-1 unreachable", "severity": "critical", "source": "cr-1"},
    )
    process()
    row = page.wait_for_selector("tr:has-text('Core router cr-1 unreachable')")
    assert "SEV2" in row.inner_text()
    assert not page.is_visible("#board-empty")
    page.screenshot(path=str(tmp_path / "board.png"))

    incident = Incident.objects.get()
    page.click(f"#incident-{incident.pk} a >> nth=0")
    page.wait_for_selector("h1:has-text('Core router cr-1 unreachable')")
    page.click("button:has-text('Acknowledge')")
    page.wait_for_selector("[data-status]:has-text('Acknowledged')")
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    assert incident.acknowledged_by == floor.alice

    # A SEV2 is a major incident: resolving is refused until someone commands it.
    page.select_option("select[name=resolution_code]", "change_rolled_back")
    page.fill("input[name=summary]", "Rolled back the routing change")
    page.click("form button:has-text('Resolve')")
    page.wait_for_selector(".flash.error:has-text('incident commander')")
    page.select_option("select[aria-label='incident commander']", "alice")
    page.click("dd:has(select[aria-label='incident commander']) button:has-text('Set')")
    page.wait_for_selector("text=Incident commander: alice")
    page.select_option("select[name=resolution_code]", "change_rolled_back")
    page.fill("input[name=summary]", "Rolled back the routing change")
    page.click("form button:has-text('Resolve')")
    page.wait_for_selector("[data-status]:has-text('Resolved')")
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_by == floor.alice
    assert incident.commander == floor.alice
    assert incident.resolution_code == "change_rolled_back"
    assert page.is_visible("text=Resolved by alice")
    page.screenshot(path=str(tmp_path / "incident.png"), full_page=True)


def test_user_text_is_shown_as_text_not_run(page, client):
    floor = Floor()
    log_in(page, "alice", "pw-alice-123")
    page.wait_for_selector("[data-live-status].ok")
    page.evaluate("window.__pwned = false")
    post_alert(client, floor.token, {"summary": "<img src=x onerror='window.__pwned=true'>"})
    process()
    page.wait_for_selector("tr:has-text('<img src=x')")
    assert page.evaluate("window.__pwned") is False
