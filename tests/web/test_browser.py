"""The console in a real browser (Chromium via Playwright) against a live ``floodway serve`` on
127.0.0.1: sign in, create an account and a deal, find them in the lists and detail pages, edit
with a validation error shown next to the field. Screenshots of the main pages are written to
``docs/screenshots/`` on every run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
START_TIMEOUT_S = 60

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("CI", "").lower() not in ("1", "true"),
    reason="Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)",
)


class Server:
    def __init__(self, process: subprocess.Popen[str], url: str, email: str, password: str):
        self.process = process
        self.url = url
        self.email = email
        self.password = password


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("console-data")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("FLOODWAY_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "floodway.cli", "serve", "--data", str(data), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    email = password = url = None
    lines = []
    deadline = time.monotonic() + START_TIMEOUT_S
    assert process.stdout is not None
    while time.monotonic() < deadline and url is None:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if m := re.search(r"email:\s+(\S+)", line):
            email = m.group(1)
        if m := re.search(r"password:\s+(\S+)", line):
            password = m.group(1)
        if m := re.search(r"serving on (http://\S+)", line):
            url = m.group(1)
    if url is None or email is None or password is None:
        process.kill()
        pytest.fail("floodway serve did not start:\n" + "".join(lines))
    try:
        yield Server(process, url, email, password)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(base_url=server.url, viewport={"width": 1360, "height": 860})
    pg = context.new_page()
    errors: list[str] = []
    # HTTP error statuses (401 on a wrong password, 422 on a refused form) are expected; script
    # errors and CSP refusals ("Refused to execute/apply …") are not.
    pg.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(10_000)
    try:
        yield pg
    finally:
        context.close()
    # No CSP violation or script error on any page the test opened.
    assert errors == []


def _shot(pg: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def _sign_in(pg: Any, server: Server) -> None:
    pg.goto("/")
    assert pg.url.endswith("/login")
    pg.fill("#email", server.email)
    pg.fill("#password", "not the password")
    pg.click("#signin")
    assert pg.locator("#login-error").inner_text() == "Email or password is wrong"
    assert pg.input_value("#email") == server.email
    _shot(pg, "login")
    pg.fill("#password", server.password)
    pg.click("#signin")
    pg.wait_for_url(re.compile(r".*/$"))
    assert pg.locator("h1").inner_text() == "Home"


def test_console_records_loop_in_a_browser(page: Any, server: Server) -> None:
    pg = page
    _sign_in(pg, server)
    _shot(pg, "home")

    # An account through the form.
    pg.click("nav >> text=Accounts")
    assert pg.locator("h1").inner_text() == "Accounts"
    pg.click("text=New Account")
    pg.fill("#f-Account_Name", "Brightwater Labs")
    pg.fill("#f-Phone", "+49 30 1234567")
    pg.fill("#f-Website", "https://brightwater.example")
    pg.select_option("#f-Industry", "Large Enterprise")
    pg.click("button:has-text('Save')")
    pg.wait_for_url(re.compile(r".*/m/Accounts/\d+\?done=created"))
    assert pg.locator(".toast").inner_text() == "Account created"
    assert pg.locator("h1").inner_text() == "Brightwater Labs"
    account_url = pg.url.split("?")[0]
    _shot(pg, "account-detail")

    # A deal pointing at it.
    pg.goto("/m/Deals/new")
    pg.fill("#f-Deal_Name", "Annual licence 2027")
    pg.select_option("#f-Account_Name", label="Brightwater Labs")
    pg.select_option("#f-Stage", "Negotiation/Review")
    pg.fill("#f-Amount", "48000")
    pg.fill("#f-Closing_Date", "2027-03-31")
    pg.click("button:has-text('Save')")
    pg.wait_for_url(re.compile(r".*/m/Deals/\d+\?done=created"))
    deal_url = pg.url.split("?")[0]
    link = pg.locator("dd a", has_text="Brightwater Labs")
    assert link.get_attribute("href") == account_url.replace(server.url, "")
    _shot(pg, "deal-detail")

    # Both in their lists; the search narrows the deals list as you type.
    pg.goto("/m/Deals")
    row = pg.locator("#results tbody tr", has_text="Annual licence 2027")
    assert row.count() == 1
    assert "48,000.00" in row.inner_text()
    pg.fill("#q", "Annual")
    pg.wait_for_url(re.compile(r".*q=Annual.*"))
    assert pg.locator("#results tbody tr").count() == 1
    _shot(pg, "deals-list")
    pg.goto("/m/Accounts")
    assert pg.locator("#results tbody tr", has_text="Brightwater Labs").count() == 1

    # Edit with a validation error next to the field; what was typed stays.
    pg.goto(deal_url + "/edit")
    pg.fill("#f-Deal_Name", "")
    pg.fill("#f-Next_Step", "Send the contract")
    pg.click("button:has-text('Save')")
    error = pg.locator("#f-Deal_Name-error")
    assert error.inner_text() == "Deal Name is required."
    assert pg.get_attribute("#f-Deal_Name", "aria-invalid") == "true"
    assert pg.input_value("#f-Next_Step") == "Send the contract"
    assert pg.locator(".summary[role=alert]").is_visible()
    _shot(pg, "deal-edit-error")
    pg.fill("#f-Deal_Name", "Annual licence 2027 (renewal)")
    pg.click("button:has-text('Save')")
    pg.wait_for_url(re.compile(r".*/m/Deals/\d+\?done=saved"))
    assert pg.locator("h1").inner_text() == "Annual licence 2027 (renewal)"
    assert "Send the contract" in pg.locator("main").inner_text()

    # Sign out: the session is gone.
    pg.click(".usermenu summary")
    pg.click("text=Sign out")
    pg.wait_for_url(re.compile(r".*/login$"))
    pg.goto(deal_url)
    assert "/login?next=" in pg.url


def test_palette_and_keyboard_shortcuts_in_a_browser(page: Any, server: Server) -> None:
    pg = page
    _sign_in(pg, server)

    # Ctrl+K: an action by name, then the new record by the start of its name.
    pg.keyboard.press("Control+k")
    palette = pg.locator("dialog#palette")
    assert palette.is_visible()
    assert pg.evaluate("document.activeElement.id") == "palette-q"
    pg.keyboard.type("new acc")
    pg.locator("#palette-list [role=option]", has_text="New Account").wait_for()
    assert pg.locator("#palette-list [aria-selected=true]").inner_text().startswith("New Account")
    pg.keyboard.press("Enter")
    pg.wait_for_url(re.compile(r".*/m/Accounts/new$"))
    pg.fill("#f-Account_Name", "Kestrel Freight Palette")
    pg.click("button:has-text('Save')")
    pg.wait_for_url(re.compile(r".*/m/Accounts/\d+\?done=created"))
    account_url = pg.url.split("?")[0]

    pg.click("[data-palette-open]")  # the visible control does the same
    pg.keyboard.type("kestrel freight")
    option = pg.locator("#palette-list [role=option]", has_text="Kestrel Freight Palette")
    option.wait_for()
    _shot(pg, "palette")
    pg.keyboard.press("ArrowDown")
    pg.keyboard.press("ArrowUp")
    assert option.get_attribute("aria-selected") == "true"
    pg.keyboard.press("Enter")
    pg.wait_for_url(account_url)
    assert pg.locator("h1").inner_text() == "Kestrel Freight Palette"

    # Escape closes the palette and gives the focus back.
    pg.locator("[data-palette-open]").focus()
    pg.keyboard.press("Control+k")
    assert palette.is_visible()
    pg.keyboard.press("Escape")
    assert not palette.is_visible()
    assert pg.evaluate("document.activeElement.hasAttribute('data-palette-open')")

    # g-sequences go to pages; "e" edits the record; "?" shows the help.
    pg.locator("main").click(position={"x": 5, "y": 5})
    pg.keyboard.press("e")
    pg.wait_for_url(account_url + "/edit")
    pg.goto("/")
    pg.keyboard.press("g")
    pg.keyboard.press("f")
    pg.wait_for_url(re.compile(r".*/functions$"))
    pg.keyboard.press("g")
    pg.keyboard.press("d")
    pg.wait_for_url(re.compile(r".*/m/Deals$"))
    pg.keyboard.press("Shift+?")
    help_dialog = pg.locator("dialog#shortcuts")
    assert help_dialog.is_visible()
    pg.keyboard.press("Escape")
    assert not help_dialog.is_visible()

    # Typing in a field is typing, not a shortcut; single keys can be switched off.
    pg.fill("#q", "gf")
    assert pg.url.endswith("/m/Deals") or "q=gf" in pg.url
    pg.click(".usermenu summary")
    pg.uncheck("[data-keys-toggle]")
    pg.locator("main h1").click()
    pg.keyboard.press("g")
    pg.keyboard.press("h")
    pg.wait_for_timeout(300)
    assert re.search(r"/m/Deals", pg.url)
    pg.reload()
    pg.click(".usermenu summary")
    assert not pg.is_checked("[data-keys-toggle]")
    pg.check("[data-keys-toggle]")
