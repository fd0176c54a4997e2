"""The function editor over plain HTTP: the check behind the error markers, completions, creating,
saving, publishing, running the buffer, history with diffs, rollback, REST settings, rights,
CSRF and the editor page's style nonce."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import Console

HX = {"HX-Request": "true"}

GOOD = """string standalone.{name}(int n, string who)
{{
  info "hello " + who;
  return who + " x" + n;
}}
"""


def _fx(app: Any) -> Any:
    from floodway.api.functions import service

    class _Req:
        def __init__(self, app: Any) -> None:
            self.app = app

    return service(_Req(app))  # type: ignore[arg-type]


def _make(app: Any, name: str, source: str | None = None) -> Any:
    fx = _fx(app)
    if fx.registry.find(name) is None:
        fx.registry.create(source or GOOD.format(name=name), author="test")
    return fx


def _check(console: Console, source: str, api_name: str = "") -> Any:
    return console.client.post(
        "/editor/check",
        data={"source": source, "api_name": api_name},
        headers={"X-CSRF-Token": console.csrf},
    )


# ---------------------------------------------------------------------------------- check


def test_check_reports_a_syntax_error_at_its_line_and_column(admin: Console) -> None:
    source = 'string standalone.ed_chk(int n)\n{\n  x = = 1;\n  return "";\n}\n'
    r = _check(admin, source, "ed_chk")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    found = r.json()["diagnostics"]
    assert len(found) == 1
    assert found[0]["line"] == 3 and found[0]["column"] == 7
    assert found[0]["severity"] == "error" and "Unexpected '='" in found[0]["message"]


def test_check_of_good_code_is_empty_and_adds_org_warnings(admin: Console) -> None:
    ok = _check(admin, GOOD.format(name="ed_ok"), "ed_ok").json()["diagnostics"]
    assert ok == []
    source = (
        "string standalone.ed_warn(int n)\n{\n"
        '  r = zoho.crm.getRecordById("Dealz", n);\n  return "";\n}\n'
    )
    found = _check(admin, source, "ed_other").json()["diagnostics"]
    assert {"line": 1, "column": 19, "severity": "error"}.items() <= found[0].items()
    assert "header names 'ed_warn'" in found[0]["message"]
    assert found[1]["line"] == 3 and found[1]["severity"] == "warning"
    assert found[1]["message"] == "'Dealz' is not a module of this org"


def test_check_needs_csrf_and_manage_functions(admin: Console, standard: Console) -> None:
    no_token = admin.client.post("/editor/check", data={"source": "info 1;"})
    assert no_token.status_code == 403
    other_site = admin.client.post(
        "/editor/check",
        data={"source": "info 1;"},
        headers={"X-CSRF-Token": admin.csrf, "Origin": "http://evil.example"},
    )
    assert other_site.status_code == 403
    assert _check(standard, "info 1;").status_code == 403
    assert standard.get("/editor/completions").status_code == 403


def test_completions_list_builtins_tasks_modules_and_fields(admin: Console) -> None:
    table = admin.get("/editor/completions").json()
    methods = {m["label"]: m for m in table["methods"]}
    assert "toLong" in methods and "Text" in methods["toLong"]["detail"]
    assert methods["substring"]["detail"] == "substring(start, end?) · Text"
    assert methods["getPrefix"]["detail"] == "getPrefix(s) · Text"
    tasks = {t["label"]: t["detail"] for t in table["tasks"]}
    assert tasks["getRecordById"] == "(module, id, options?, connection?)"
    assert "searchRecords" in tasks and "getRelatedRecords" in tasks
    assert "Deals" in table["modules"] and "Accounts" in table["modules"]
    deal_fields = {f["label"] for f in table["fields"]["Deals"]}
    assert {"Deal_Name", "Amount", "Stage", "id"} <= deal_fields


# ---------------------------------------------------------------------------------- create


def test_new_function_form_keeps_input_and_names_the_field(app: Any, admin: Console) -> None:
    _make(app, "ed_taken")
    admin.get("/functions/new")
    r = admin.post(
        "/functions/new",
        {
            "category": "button",
            "api_name": "ed_taken",
            "return_type": "string",
            "argname.0": "dealId",
            "argtype.0": "int",
            "argname.1": "bad name",
            "argtype.1": "string",
        },
    )
    assert r.status_code == 422
    assert "A function named ed_taken already exists." in r.text
    assert "Argument 2: &#39;bad name&#39; is not a valid name." in r.text
    assert 'value="dealId"' in r.text and 'value="button" checked' in r.text


def test_create_function_opens_the_editor_with_its_template(app: Any, admin: Console) -> None:
    admin.get("/functions/new")
    r = admin.post(
        "/functions/new",
        {
            "category": "button",
            "api_name": "ed_created",
            "display_name": "Created here",
            "return_type": "string",
            "argname.0": "dealId",
            "argtype.0": "int",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/functions/ed_created?done=created"
    info = _fx(app).registry.get("ed_created")
    assert info.category == "button" and info.arguments == (("dealId", "Int"),)
    assert info.live_version is None and info.latest_version == 1
    page = admin.get(r.headers["location"]).text
    assert "string button.ed_created(int dealId)" in page
    assert "Function created as draft v1" in page and 'name="arg.dealId"' in page


# ---------------------------------------------------------------------------------- save, publish


def test_save_adds_a_draft_and_reports_no_changes(app: Any, admin: Console) -> None:
    fx = _make(app, "ed_save")
    admin.get("/functions/ed_save")
    changed = GOOD.format(name="ed_save").replace("hello", "hi")
    r = admin.post("/functions/ed_save/save", {"source": changed}, headers=HX)
    assert r.status_code == 200
    assert 'data-saved-version="2"' in r.text and "Saved as draft v2" in r.text
    assert 'id="fn-state" hx-swap-oob="true"' in r.text and "draft v2" in r.text
    assert fx.registry.version("ed_save", 2).source == changed
    again = admin.post("/functions/ed_save/save", {"source": changed}, headers=HX)
    assert "No changes since v2" in again.text
    assert fx.registry.get("ed_save").latest_version == 2


def test_save_with_a_syntax_error_keeps_the_buffer_and_marks_the_line(
    app: Any, admin: Console
) -> None:
    fx = _make(app, "ed_bad")
    admin.get("/functions/ed_bad")
    broken = GOOD.format(name="ed_bad").replace('return who + " x" + n;', "return who +;")
    r = admin.post("/functions/ed_bad/save", {"source": broken}, headers=HX)
    assert r.status_code == 200
    assert 'data-error-line="4"' in r.text and "Not saved:" in r.text
    plain = admin.post("/functions/ed_bad/save", {"source": broken})
    assert plain.status_code == 422
    assert "return who +;" in plain.text and 'data-error-line="4"' in plain.text
    assert fx.registry.get("ed_bad").latest_version == 1


def test_publish_saves_the_buffer_and_makes_it_live(app: Any, admin: Console) -> None:
    fx = _make(app, "ed_pub")
    admin.get("/functions/ed_pub")
    changed = GOOD.format(name="ed_pub").replace("hello", "published")
    r = admin.post("/functions/ed_pub/publish", {"source": changed}, headers=HX)
    assert "Published v2" in r.text and "live v2" in r.text
    info = fx.registry.get("ed_pub")
    assert info.live_version == 2 and fx.registry.version("ed_pub").source == changed
    plain = admin.post("/functions/ed_pub/publish", {"source": changed}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"].endswith("done=published")


# ---------------------------------------------------------------------------------- run


def test_run_the_unsaved_buffer_shows_info_return_and_limits(app: Any, admin: Console) -> None:
    fx = _make(app, "ed_run")
    admin.get("/functions/ed_run")
    buffer = GOOD.format(name="ed_run").replace('"hello "', '"unsaved <b>"')
    r = admin.post(
        "/functions/ed_run/run",
        {"source": buffer, "arg.n": "3", "arg.who": "Bo"},
        headers=HX,
    )
    assert r.status_code == 200
    assert "success" in r.text and "unsaved &lt;b&gt;Bo" in r.text and "Bo x3" in r.text
    assert "unsaved buffer" in r.text and "No HTTP calls." in r.text
    assert re.search(r"[\d,]+ / 200,000 statements", r.text)
    assert fx.registry.get("ed_run").latest_version == 1  # running saved nothing
    saved = admin.post(
        "/functions/ed_run/run",
        {"source": GOOD.format(name="ed_run"), "arg.n": "1", "arg.who": "Al"},
        headers=HX,
    )
    assert "hello Al" in saved.text and "v1 · execution" in saved.text


def test_a_failing_run_and_a_buffer_that_does_not_compile_name_the_line(
    app: Any, admin: Console
) -> None:
    _make(app, "ed_fail")
    admin.get("/functions/ed_fail")
    failing = GOOD.format(name="ed_fail").replace(
        'info "hello " + who;', 'info "hello " + who;\n  x = who.toLong();'
    )
    r = admin.post(
        "/functions/ed_fail/run", {"source": failing, "arg.n": "1", "arg.who": "abc"}, headers=HX
    )
    assert "failure" in r.text and 'data-error-line="4"' in r.text and "Error at line 4" in r.text
    broken = GOOD.format(name="ed_fail").replace("info", "info (")
    r = admin.post("/functions/ed_fail/run", {"source": broken, "arg.n": "1"}, headers=HX)
    assert "Not run:" in r.text and 'data-error-line="3"' in r.text


# ---------------------------------------------------------------------------------- history


def test_history_diff_is_escaped_and_numbered(app: Any, admin: Console) -> None:
    fx = _make(app, "ed_diff")
    v2 = GOOD.format(name="ed_diff").replace(
        'info "hello " + who;', 'info "<script>alert(1)</script>";'
    )
    fx.registry.save("ed_diff", v2, author="test")
    r = admin.get("/functions/ed_diff/versions?compare=1..2")
    assert r.status_code == 200
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert re.search(r'<tr class="del"><td class="num">3</td><td class="num"></td>', r.text)
    assert re.search(r'<tr class="add"><td class="num"></td><td class="num">3</td>', r.text)
    assert "+1" in r.text and "−1" in r.text
    ticked = admin.client.get("/functions/ed_diff/versions", params=[("v", "2"), ("v", "1")])
    assert "Changes from v1 to v2" in ticked.text
    assert admin.get("/functions/ed_diff/versions?compare=1..9").status_code == 404


def test_rollback_publishes_an_earlier_version_after_showing_the_diff(
    app: Any, admin: Console
) -> None:
    fx = _make(app, "ed_roll")
    fx.registry.publish("ed_roll", 1)
    fx.registry.save("ed_roll", GOOD.format(name="ed_roll").replace("hello", "v2"), publish=True)
    page = admin.get("/functions/ed_roll/versions/1/publish")
    assert "Publish ed_roll v1?" in page.text and "a rollback from v2" in page.text
    assert "Changes from the live v2" in page.text
    r = admin.post("/functions/ed_roll/versions/1/publish", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/functions/ed_roll/versions?published=1&was=2"
    assert fx.registry.get("ed_roll").live_version == 1
    assert "v1 is live (rollback from v2)" in admin.get(r.headers["location"]).text


# ---------------------------------------------------------------------------------- settings


def test_rest_settings_switch_exposure_and_show_examples(app: Any, admin: Console) -> None:
    fx = _make(app, "ed_rest")
    page = admin.get("/functions/ed_rest/settings").text
    assert "REST is off for this function" in page
    r = admin.post(
        "/functions/ed_rest/settings",
        {
            "display_name": "REST one",
            "description": "",
            "timeout_s": "",
            "rest_enabled": "on",
            "rest_auth": "any",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    info = fx.registry.get("ed_rest")
    assert info.rest_enabled and info.display_name == "REST one"
    page = admin.get("/functions/ed_rest/settings").text
    url = "http://127.0.0.1/crm/v7/functions/ed_rest/actions/execute"
    assert f"{url}?auth_type=apikey&amp;zapikey=$ZAPIKEY" in page
    assert "arguments=%7B%22n%22%3A1%2C%22who%22%3A%22text%22%7D" in page
    assert (
        "--data-urlencode &#39;arguments={&#34;n&#34;:1,&#34;who&#34;:&#34;text&#34;}&#39;" in page
    )
    bad = admin.post("/functions/ed_rest/settings", {"display_name": "x", "timeout_s": "soon"})
    assert bad.status_code == 422 and "Time limit: enter a number of seconds" in bad.text
    wrong = admin.post("/functions/ed_rest/settings/key", {"password": "not it"})
    assert wrong.status_code == 422 and "the key stays hidden" in wrong.text


# ---------------------------------------------------------------------------------- rights, CSP


@pytest.mark.parametrize(
    "url",
    [
        "/functions/new",
        "/functions/ed_perm/save",
        "/functions/ed_perm/publish",
        "/functions/ed_perm/versions/1/publish",
        "/functions/ed_perm/settings",
    ],
)
def test_standard_profile_cannot_edit_functions(app: Any, standard: Console, url: str) -> None:
    fx = _make(app, "ed_perm")
    r = standard.post(url, {"source": "x", "api_name": "x"})
    assert r.status_code == 403
    assert fx.registry.get("ed_perm").latest_version == 1
    assert standard.get("/functions/ed_perm/versions").status_code == 403


def test_posts_without_the_csrf_token_change_nothing(app: Any, admin: Console) -> None:
    fx = _make(app, "ed_csrf")
    changed = GOOD.format(name="ed_csrf").replace("hello", "csrf")
    r = admin.client.post("/functions/ed_csrf/publish", data={"source": changed})
    assert r.status_code == 403
    r = admin.client.post("/functions/ed_csrf/versions/1/publish")
    assert r.status_code == 403
    info = fx.registry.get("ed_csrf")
    assert info.latest_version == 1 and info.live_version is None


def test_editor_page_allows_styles_only_with_its_nonce(app: Any, admin: Console) -> None:
    _make(app, "ed_csp")
    r = admin.get("/functions/ed_csp")
    nonce = re.search(r'data-nonce="([^"]+)"', r.text)
    assert nonce
    csp = r.headers["content-security-policy"]
    assert f"style-src 'self' 'nonce-{nonce.group(1)}'" in csp
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "x-floodway-style-nonce" not in r.headers
    assert '<script src="/static/vendor/editor.js" defer></script>' in r.text
    again = admin.get("/functions/ed_csp")
    assert again.headers["content-security-policy"] != csp  # a new nonce per response
    other = admin.get("/functions").headers["content-security-policy"]
    assert "nonce-" not in other and "style-src 'self';" in other
