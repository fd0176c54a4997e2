# ruff: noqa: F811  (the live-server fixtures imported from test_browser are parameter names)
"""Accessibility of the console's main pages (console-ux.md §6): axe-core runs in Chromium on
each page of a live ``floodway serve`` with content on it (an account, a deal, a function with a
run, a workflow rule) and finds nothing serious or critical against WCAG 2.2 A/AA; then the main
loop is walked with the keyboard only.
"""

from __future__ import annotations

import re
from typing import Any

from axe_playwright_python.sync_playwright import Axe

from .test_browser import Server, _sign_in, browser, page, pytestmark, server  # noqa: F401

WCAG: dict[str, Any] = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
BLOCKING = ("serious", "critical")

_axe = Axe()


def findings(pg: Any) -> list[str]:
    """The serious and critical axe violations of the page as it is now, one line each."""
    result = _axe.run(pg, options=WCAG)
    out = []
    for v in result.response["violations"]:
        if v["impact"] in BLOCKING:
            targets = [", ".join(n["target"]) for n in v["nodes"][:3]]
            out.append(f"{v['id']} ({v['impact']}): {v['help']} at {targets}")
    return out


def _content(pg: Any) -> dict[str, str]:
    """An account and a deal through the forms, a function with one run, a workflow rule."""
    pg.goto("/m/Accounts/new")
    pg.fill("#f-Account_Name", "Marlow & Finch")
    pg.click("button:has-text('Save')")
    pg.wait_for_url(re.compile(r".*/m/Accounts/\d+\?done=created"))
    account = pg.url.split("?")[0]
    pg.goto("/m/Deals/new")
    pg.fill("#f-Deal_Name", "Fleet renewal")
    pg.select_option("#f-Stage", "Qualification")
    pg.click("button:has-text('Save')")
    pg.wait_for_url(re.compile(r".*/m/Deals/\d+\?done=created"))
    deal = pg.url.split("?")[0]
    pg.goto("/functions/new")
    pg.check("input[name=category][value=standalone]")
    pg.fill("#f-api_name", "a11y_greet")
    pg.click("#create-btn")
    pg.wait_for_url(re.compile(r".*/functions/a11y_greet"))
    editor = pg.url.split("?")[0]
    pg.click("#run-btn")
    pg.locator(".runsummary").wait_for()
    return {"account": account, "deal": deal, "editor": editor}


def test_main_pages_have_no_serious_accessibility_findings(page: Any, server: Server) -> None:
    pg = page
    pg.goto("/login")
    problems = {"/login": findings(pg)}
    _sign_in(pg, server)
    made = _content(pg)
    pages = [
        "/",
        "/m/Deals",
        "/m/Deals?sort=Deal_Name&order=asc",
        made["deal"],
        made["deal"] + "/edit",
        "/m/Accounts/new",
        made["account"],
        "/functions",
        "/functions/new",
        made["editor"],
        made["editor"] + "/versions",
        made["editor"] + "/settings",
        "/automation/rules",
        "/automation/rules/new",
        "/automation/buttons/new",
        "/automation/schedules/new",
        "/connections",
        "/connections/new",
        "/executions",
        "/dashboard",
        "/settings/org",
        "/settings/users",
        "/settings/profiles",
        "/settings/api-key",
        "/settings/smtp",
    ]
    for path in pages:
        pg.goto(path)
        problems[path] = findings(pg)
    # Dialogs: the palette with results and the shortcuts help.
    pg.goto("/")
    pg.keyboard.press("Control+k")
    pg.keyboard.type("fleet")
    pg.locator("#palette-list [role=option]").first.wait_for()
    problems["palette"] = findings(pg)
    pg.keyboard.press("Escape")
    pg.keyboard.press("Shift+?")
    problems["shortcuts"] = findings(pg)
    pg.keyboard.press("Escape")
    found = {where: items for where, items in problems.items() if items}
    assert found == {}, "\n".join(f"{w}: {i}" for w, items in found.items() for i in items)
    # The check itself sees a planted problem (an image without a text alternative).
    pg.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', "
        '\'<img src="/static/favicon.svg" width="40" height="40">\')'
    )
    assert any(f.startswith("image-alt (critical)") for f in findings(pg))


def test_main_loop_with_the_keyboard_only(page: Any, server: Server) -> None:
    """Sign in, create a deal, open it through the palette, edit it: never a mouse click."""
    pg = page
    pg.goto("/login")
    assert pg.evaluate("document.activeElement.id") == "email"  # focused on arrival
    pg.keyboard.type(server.email)
    pg.keyboard.press("Tab")
    pg.keyboard.type(server.password)
    pg.keyboard.press("Enter")
    pg.wait_for_url(re.compile(r".*/$"))
    pg.keyboard.press("Tab")  # "Skip to content" comes first, and moves the focus to the page
    assert pg.evaluate("document.activeElement.className") == "skip"
    pg.keyboard.press("Enter")
    assert pg.evaluate("document.activeElement.id") == "main"

    pg.keyboard.press("g")
    pg.keyboard.press("d")
    pg.wait_for_url(re.compile(r".*/m/Deals$"))
    pg.keyboard.press("c")
    pg.wait_for_url(re.compile(r".*/m/Deals/new$"))
    pg.focus("#f-Deal_Name")
    pg.keyboard.type("Keyboard only deal")
    pg.focus("#f-Stage")
    pg.keyboard.press("ArrowDown")  # the first stage after "None"
    assert pg.input_value("#f-Stage") != ""
    pg.focus("#f-Deal_Name")
    pg.keyboard.press("Enter")  # submits the form
    pg.wait_for_url(re.compile(r".*/m/Deals/\d+\?done=created"))
    deal = pg.url.split("?")[0]

    pg.keyboard.press("Control+k")
    pg.keyboard.type("keyboard only")
    pg.locator("#palette-list [role=option]", has_text="Keyboard only deal").wait_for()
    pg.keyboard.press("Enter")
    pg.wait_for_url(deal)
    pg.keyboard.press("e")
    pg.wait_for_url(deal + "/edit")
    pg.focus("#f-Next_Step")
    pg.keyboard.type("Call back")
    pg.keyboard.press("Enter")
    pg.wait_for_url(re.compile(r".*/m/Deals/\d+\?done=saved"))
    assert "Call back" in pg.locator("main").inner_text()
