# ruff: noqa: F811
"""The automation loop in a real browser (Chromium via Playwright) against a live ``floodway
serve`` on 127.0.0.1: build a workflow rule in the builder (Deals, field update on Stage, a
function action with a merge field), update a deal and find the execution in the log and the
dashboard chart; attach a function to a button and click it on the deal's page; add a related
list and see its rows there. Screenshots of the automation, executions and dashboard pages are
written to ``docs/screenshots/``.
"""

from __future__ import annotations

import re
from typing import Any

from .test_browser import Server, _shot, _sign_in, browser, page, pytestmark, server  # noqa: F401

RULE_FN = """void automation.note_stage(Int dealId)
{
    info "stage changed on " + dealId;
}
"""
BUTTON_FN = """string button.greet(String dealId)
{
    return "Hello from deal " + dealId;
}
"""
LIST_FN = """string related_list.deal_lines(String dealId)
{
    return "<record><row no='1'><FL val='Line'>Licence</FL><FL val='Total'>48000</FL></row>"
        + "<row no='2'><FL val='Line'>Support</FL><FL val='Total'>1200</FL></row></record>";
}
"""


def _api_token(pg: Any) -> str:
    """A self client made on the settings page, exchanged for an access token."""
    pg.goto("/settings/oauth-clients")
    pg.fill("#f-name", "Browser test")
    pg.click("button:has-text('Create self client')")
    client_id = pg.inner_text("#made-id").strip()
    secret = pg.inner_text("#made-secret").strip()
    refresh = pg.inner_text("#made-refresh").strip()
    answer = pg.request.post(
        "/oauth/v2/token",
        form={
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": secret,
            "refresh_token": refresh,
        },
    )
    assert answer.ok, answer.text()
    return str(answer.json()["access_token"])


def test_automation_loop_in_a_browser(page: Any, server: Server) -> None:
    pg = page
    _sign_in(pg, server)
    token = _api_token(pg)
    auth = {"Authorization": f"Zoho-oauthtoken {token}"}
    for source in (RULE_FN, BUTTON_FN, LIST_FN):
        made = pg.request.post(
            "/api/functions", headers=auth, data={"source": source, "publish": True}
        )
        assert made.status == 201, made.text()
    deal = pg.request.post(
        "/crm/v2/Deals",
        headers=auth,
        data={"data": [{"Deal_Name": "Harbour expansion", "Stage": "Qualification"}]},
    )
    assert deal.status == 201, deal.text()
    deal_id = deal.json()["data"][0]["details"]["id"]

    # Build the rule: Deals, field update on Stage, Stage is Closed Won, run note_stage.
    pg.goto("/automation/rules/new?module=Deals")
    pg.fill("#f-name", "Stage watcher")
    pg.select_option("#f-on", "field_update")  # re-renders the form, keeping what was typed
    pg.wait_for_selector("input[name=fields][value=Stage]")
    assert pg.input_value("#f-name") == "Stage watcher"
    pg.check("input[name=fields][value=Stage]")
    pg.click("#add-condition")
    pg.select_option("#c1-field", "Stage")
    pg.wait_for_selector("#c1-value")
    pg.select_option("#c1-op", "equals")
    pg.fill("#c1-value", "Closed Won")
    pg.select_option("#a1_function", "note_stage")
    pg.wait_for_selector("#a1_arg-dealId")
    pg.select_option("select[data-insert-into='a1_arg-dealId']", "${Deals.id}")
    assert pg.input_value("#a1_arg-dealId") == "${Deals.id}"
    assert pg.locator("input[name=criteria_mode][value=rows]").is_checked()
    pg.evaluate("window.scrollTo(0, 0)")
    _shot(pg, "automation-rule-builder")
    pg.click("#save-rule")
    pg.wait_for_url(re.compile(r".*/automation/rules\?module=Deals&done=created"))
    row = pg.locator("#items tbody tr", has_text="Stage watcher")
    assert row.count() == 1 and "(Stage:equals:Closed Won)" in row.inner_text()
    _shot(pg, "automation-rules")

    # The log is open while the deal is updated in another tab: the rule fires, the live log
    # offers "1 new — show" without moving anything, and showing it lists the run.
    pg.goto("/executions?function=note_stage")
    assert pg.locator("#executions tbody tr").count() == 0
    other = pg.context.new_page()
    other.goto(f"/m/Deals/{deal_id}/edit")
    other.select_option("#f-Stage", "Closed Won")
    other.click("button:has-text('Save')")
    other.wait_for_url(re.compile(r".*/m/Deals/\d+\?done=saved"))
    other.close()
    show = pg.locator("[data-live-show]")
    show.wait_for(state="visible", timeout=20_000)
    assert show.inner_text() == "1 new — show"
    show.click()
    rows = pg.locator("#executions tbody tr")
    assert rows.count() == 1
    assert "Stage watcher" in rows.first.inner_text()
    _shot(pg, "executions")
    rows.first.locator("a").first.click()
    assert f"stage changed on {deal_id}" in pg.inner_text("#info-lines")

    pg.goto("/dashboard")
    pg.wait_for_selector("#runs-chart canvas")
    assert int(pg.inner_text("#tile-runs").replace(",", "")) >= 1
    assert pg.inner_text("#runs-summary").startswith("1 run,")
    _shot(pg, "dashboard")

    # A button on Deals runs greet and shows its message on the deal's page.
    pg.goto("/automation/buttons/new?module=Deals")
    pg.fill("#f-name", "Say hello")
    pg.select_option("#f-function", "greet")
    pg.wait_for_selector("#arg-dealId")
    pg.fill("#arg-dealId", "${Deals.id}")
    pg.click("#save-item")
    pg.wait_for_url(re.compile(r".*/automation/buttons\?module=Deals&done=created"))

    # A related list on Deals fed by deal_lines.
    pg.goto("/automation/related-lists/new?module=Deals")
    pg.fill("#f-name", "Order lines")
    pg.select_option("#f-function", "deal_lines")
    pg.wait_for_selector("#arg-dealId")
    pg.select_option("select[data-insert-into='arg-dealId']", "${Deals.id}")
    pg.click("#save-item")
    pg.wait_for_url(re.compile(r".*/automation/related-lists\?module=Deals&done=created"))

    pg.goto(f"/m/Deals/{deal_id}")
    pg.click("button:has-text('Say hello')")
    pg.wait_for_selector("#button-result .alert")
    assert pg.inner_text("#button-result").strip().startswith(f"Hello from deal {deal_id}")
    related = pg.locator("section.related", has_text="Order lines")
    related.scroll_into_view_if_needed()
    related.locator("td", has_text="Support").wait_for()
    assert "48000" in related.inner_text()
    pg.wait_for_selector("#automation-panel h2")
    assert "note_stage" in pg.inner_text("#automation-panel")
