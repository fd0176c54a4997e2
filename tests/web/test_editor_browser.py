# ruff: noqa: F811  (the live-server fixtures imported from test_browser are parameter names)
"""The function editor in a real browser (Chromium via Playwright) against a live
``floodway serve``: create a function, write it in the editor, see the syntax error marker at its
line, fix it, complete a CRM task name, run it with arguments and read its info lines, see a
failing run marked at its line, publish, and roll back a version from the history. A screenshot
of the editor (with a run, with an error marker) and of the history are written to
``docs/screenshots/``.
"""

from __future__ import annotations

import re
import time
from typing import Any

from .test_browser import Server, _shot, browser, page, pytestmark, server  # noqa: F401

CODE = """string standalone.greet_customer(string name, int count)
{
  info "Hello " + name;
  total = count * ;
  if (count > 100)
  {
    n = name.toLong();
  }
  info "Total: " + total;
  return name + " x" + total;
}
"""


def _sign_in(pg: Any, server: Server) -> None:
    pg.goto("/login")
    pg.fill("#email", server.email)
    pg.fill("#password", server.password)
    pg.click("#signin")
    pg.wait_for_url(re.compile(r".*/$"))


def _line(pg: Any, number: int) -> Any:
    return pg.locator(".cm-content .cm-line").nth(number - 1)


def _go_to_line(pg: Any, number: int) -> None:
    pg.click(".cm-content")
    pg.keyboard.press("Control+Home")
    for _ in range(number - 1):
        pg.keyboard.press("ArrowDown")
    pg.keyboard.press("End")


def test_write_check_run_publish_and_roll_back_in_the_editor(page: Any, server: Server) -> None:
    pg = page
    pg.on("dialog", lambda d: d.accept())  # "Publish …?" asks first
    _sign_in(pg, server)
    # New function: category, API name, arguments; the editor opens on draft v1.
    pg.goto("/functions")
    pg.click("text=New function")
    pg.check("input[name=category][value=standalone]")
    pg.fill("#f-api_name", "greet_customer")
    pg.select_option("#f-return_type", "string")
    pg.fill("#f-arg-0", "name")
    pg.fill("#f-arg-1", "count")
    pg.select_option("select[name='argtype.1']", "int")
    pg.click("#create-btn")
    pg.wait_for_url(re.compile(r".*/functions/greet_customer\?done=created"))
    pg.wait_for_selector(".cm-editor .cm-content")
    assert "string standalone.greet_customer(string name, int count)" in _line(pg, 1).inner_text()

    # Write the function with a mistake on line 4: the marker appears at that line.
    pg.click(".cm-content")
    pg.keyboard.press("Control+a")
    pg.keyboard.press("Backspace")
    pg.keyboard.insert_text(CODE)
    typed_at = time.monotonic()
    problems = pg.locator("#editor-problems")
    problems.filter(has_text="line 4").wait_for()
    marker_s = time.monotonic() - typed_at
    assert "1 error" in problems.inner_text()
    assert _line(pg, 4).locator(".cm-lintRange-error").count() == 1
    assert _line(pg, 3).locator(".cm-lintRange-error").count() == 0
    assert pg.locator(".cm-gutter-lint .cm-lint-marker-error").count() == 1
    assert pg.is_disabled("#publish-btn")
    assert marker_s < 3, f"the marker took {marker_s:.2f} s"
    _shot(pg, "function-editor-error")

    # Fix it by typing; the marker goes away.
    _go_to_line(pg, 4)
    pg.keyboard.press("Shift+Home")
    pg.keyboard.insert_text("total = count * 2;")
    problems.filter(has_text="No problems").wait_for()
    assert pg.locator(".cm-lintRange-error").count() == 0
    assert "total = count * 2;" in _line(pg, 4).inner_text()

    # Autocomplete offers the CRM tasks after "zoho.crm.".
    _go_to_line(pg, 9)
    pg.keyboard.press("Enter")
    pg.keyboard.type("r = zoho.crm.getRec")
    options = pg.locator(".cm-tooltip-autocomplete li")
    options.filter(has_text="getRecordById").first.wait_for()
    assert options.filter(has_text="getRecords").count() >= 1
    pg.keyboard.press("Escape")
    pg.keyboard.press("Control+Shift+k")  # delete the line again
    assert pg.evaluate("window.floodwayEditor.state.doc.toString()") == CODE.replace(
        "count * ;", "count * 2;"
    )

    # Run the (unsaved) buffer with arguments and read its info lines.
    pg.fill("#arg-name", "Ada")
    pg.fill("#arg-count", "3")
    pg.click("#run-btn")
    info = pg.locator("#info-lines li")
    info.first.wait_for()
    assert info.all_inner_texts() == ["Hello Ada", "Total: 6"]
    assert pg.locator("#return-value").inner_text() == "Ada x6"
    summary = pg.locator(".runsummary").inner_text()
    assert "success" in summary and "statements" in summary and "unsaved buffer" in summary
    assert "No HTTP calls." in pg.locator("#run-result").inner_text()
    _shot(pg, "function-editor")

    # A failing run marks its line in the editor.
    pg.fill("#arg-count", "101")
    pg.click("#run-btn")
    pg.locator("#run-output[data-error-line='7']").wait_for()
    assert _line(pg, 7).get_attribute("class").count("cm-runError") == 1
    assert "Error at line 7" in pg.locator("#run-result").inner_text()

    # Save the draft (Ctrl+S), publish it, then publish a change as v3.
    pg.click(".cm-content")
    pg.keyboard.press("Control+s")
    pg.locator("#editor-message", has_text="Saved as draft v2").wait_for()
    assert pg.is_hidden("#editor-unsaved")
    pg.click("#publish-btn")
    pg.locator("#editor-message", has_text="Published v2").wait_for()
    assert pg.locator("#fn-state").inner_text().count("live v2") == 1
    _go_to_line(pg, 3)
    pg.keyboard.press("Shift+Home")
    pg.keyboard.insert_text('info "Hi " + name;')
    assert pg.is_visible("#editor-unsaved")
    pg.click("#publish-btn")
    pg.locator("#editor-message", has_text="Published v3 (was v2)").wait_for()

    # History: the diff between v2 and v3, then roll back to v2.
    pg.click("nav.tabs >> text=History")
    pg.click("#version-3 >> text=Diff with v2")
    diff = pg.locator("table.diff")
    assert diff.locator("tr.del", has_text='info "Hello " + name;').count() == 1
    assert diff.locator("tr.add", has_text='info "Hi " + name;').count() == 1
    _shot(pg, "function-history")
    pg.click("#version-2 >> text=Publish this version")
    assert "a rollback from v3" in pg.locator("main").inner_text()
    pg.click("#confirm-publish")
    pg.wait_for_url(re.compile(r".*/versions\?published=2&was=3"))
    assert pg.locator(".toast").inner_text() == "v2 is live (rollback from v3)"
    assert "live" in pg.locator("#version-2").inner_text()
    assert "live" not in pg.locator("#version-3 td:nth-child(3)").inner_text()
