"""Console pages over plain HTTP: headers, rights, error pages, escaping, records, functions."""

from __future__ import annotations

import re
from typing import Any

from .conftest import Console


def _account(app: Any, name: str) -> str:
    from floodway.crm import Actor

    admin = app.state.crm.users.by_email("alice@example.test")
    row = app.state.crm.records.create(
        "Accounts", [{"Account_Name": name}], actor=Actor(admin.id, "ui")
    )[0]
    return str(row["details"]["id"])


# ---------------------------------------------------------------------------------- headers


def test_auth9_security_headers_on_console_pages_and_assets(admin: Console) -> None:
    for url in ("/", "/m/Accounts", "/login", "/static/app.css", "/no-such-page"):
        r = admin.client.get(url, headers={"Accept": "text/html"})
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"


def test_auth9_pages_have_no_inline_script_or_style(admin: Console) -> None:
    for url in ("/", "/m/Deals", "/m/Deals/new", "/functions"):
        html = admin.get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert "<style" not in html and " style=" not in html, url
        assert not re.search(r"\son[a-z]+=", html), url


def test_api_responses_keep_their_own_headers(admin: Console) -> None:
    r = admin.client.get("/crm/v8/Deals")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/json")
    assert "content-security-policy" not in r.headers


def test_htmx_is_served_from_the_package(admin: Console) -> None:
    page = admin.get("/").text
    src = re.search(r'<script src="(/static/vendor/htmx[^"]+)"', page)
    assert src
    r = admin.client.get(src.group(1))
    assert r.status_code == 200 and "htmx" in r.text[:2000]


# ---------------------------------------------------------------------------------- errors


def test_unknown_console_url_gives_an_html_404(admin: Console) -> None:
    r = admin.client.get("/no/such/page", headers={"Accept": "text/html,*/*;q=0.8"})
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "There is no page at this address" in r.text
    # API clients keep the Zoho envelope for unknown URLs.
    r = admin.client.get("/no/such/page", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.json()["code"] == "INVALID_URL_PATTERN"


def test_unknown_record_and_module_give_404_pages(admin: Console) -> None:
    r = admin.get("/m/Deals/4150868000000999999")
    assert r.status_code == 404
    assert "No Deal with id 4150868000000999999 — it may have been deleted." in r.text
    assert admin.get("/m/NoSuchModule").status_code == 404
    assert admin.get("/m/Deals/not-an-id/edit").status_code == 404
    assert admin.get("/functions/no_such_function").status_code == 404


def test_no_stack_trace_reaches_the_browser(app: Any, admin: Console, monkeypatch: Any) -> None:
    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("secret internals /srv/floodway/records.py")

    monkeypatch.setattr(app.state.crm.records, "list", boom)
    r = admin.get("/m/Accounts")
    assert r.status_code == 500
    assert re.search(r"Something went wrong\. Reference req-[0-9a-f]{6}", r.text)
    assert "Traceback" not in r.text and "secret internals" not in r.text
    assert "RuntimeError" not in r.text


# ---------------------------------------------------------------------------------- rights


def test_az1_standard_profile_cannot_open_functions(standard: Console) -> None:
    home = standard.get("/")
    assert 'href="/functions"' not in home.text and 'href="/m/Deals"' in home.text
    r = standard.get("/functions")
    assert r.status_code == 403
    assert "Your profile (Standard) cannot open Functions. Ask an administrator." in r.text
    assert standard.post("/functions/anything/run").status_code == 403


def test_az1_module_rights_decide_record_pages(app: Any, no_deals: Console) -> None:
    home = no_deals.get("/")
    assert 'href="/m/Deals"' not in home.text and 'href="/m/Accounts"' in home.text
    assert no_deals.get("/m/Deals").status_code == 403
    assert no_deals.get("/m/Deals/new").status_code == 403
    r = no_deals.post("/m/Deals/new", {"Deal_Name": "Sneaky"})
    assert r.status_code == 403
    assert "cannot create deal records" in r.text
    assert app.state.crm.records.search("Deals", criteria="(Deal_Name:equals:Sneaky)").data == []


# ---------------------------------------------------------------------------------- escaping


def test_auth9_record_values_are_escaped(app: Any, admin: Console) -> None:
    rid = _account(app, '<script>alert("x")</script> & Co')
    for url in ("/m/Accounts", f"/m/Accounts/{rid}", f"/m/Accounts/{rid}/edit"):
        html = admin.get(url).text
        assert '<script>alert("x")' not in html, url
        assert "&lt;script&gt;" in html, url


def test_auth10_only_http_urls_become_links() -> None:
    from floodway.web.formatting import safe_http_url, show

    assert safe_http_url("javascript:alert(1)") is None
    assert safe_http_url("data:text/html,x") is None
    assert safe_http_url(" https://example.test/a ") == "https://example.test/a"
    shown = show("javascript:alert(1)", "url")
    assert shown.href is None and shown.text == "javascript:alert(1)"


# ---------------------------------------------------------------------------------- records


def test_module_list_sorts_filters_and_pages_in_sql(app: Any, admin: Console) -> None:
    for name in ("Sort Zeta", "Sort Alpha", "Sort Mid"):
        _account(app, name)
    html = admin.get("/m/Accounts?q=Sort&sort=Account_Name&order=asc").text
    names = re.findall(r">(Sort [A-Za-z]+)</a>", html)
    assert names == ["Sort Alpha", "Sort Mid", "Sort Zeta"]
    assert 'aria-sort="ascending"' in html
    html = admin.get("/m/Accounts?q=Sort&sort=Account_Name&order=desc").text
    assert re.findall(r">(Sort [A-Za-z]+)</a>", html)[0] == "Sort Zeta"
    html = admin.get("/m/Accounts?criteria=(Account_Name:equals:Sort Mid)").text
    assert re.findall(r">(Sort [A-Za-z]+)</a>", html) == ["Sort Mid"]
    page1 = admin.get("/m/Accounts?q=Sort&sort=Account_Name&order=asc&per_page=10").text
    assert "of 3" in page1 and "Next ›" not in page1


def test_list_paging_shows_next_when_more_records(app: Any, admin: Console) -> None:
    for i in range(11):
        _account(app, f"Pager {i:02d}")
    html = admin.get("/m/Accounts?q=Pager&per_page=10&sort=Account_Name&order=asc").text
    assert "1–10 of many" in html and "Next ›" in html
    html = admin.get("/m/Accounts?q=Pager&per_page=10&sort=Account_Name&order=asc&page=2").text
    assert re.findall(r">(Pager \d+)</a>", html) == ["Pager 10"]


def test_bad_criteria_shows_the_reason_and_keeps_the_text(admin: Console) -> None:
    r = admin.get("/m/Deals?criteria=(Amount:greater:1")
    assert r.status_code == 200
    assert "The filter cannot be read" in r.text
    assert 'value="(Amount:greater:1"' in r.text


def test_create_account_and_deal_then_detail_links_the_lookup(app: Any, admin: Console) -> None:
    admin.get("/m/Accounts/new")
    r = admin.post("/m/Accounts/new", {"Account_Name": "Kestrel Freight", "Owner": ""},
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    account_id = r.headers["location"].split("/")[3].split("?")[0]
    page = admin.get(r.headers["location"])
    assert "Account saved" not in page.text and "Account created" in page.text
    admin.get("/m/Deals/new")
    r = admin.post(
        "/m/Deals/new",
        {
            "Deal_Name": "Annual licence",
            "Account_Name": account_id,
            "Stage": "Qualification",
            "Amount": "48000",
            "Closing_Date": "2026-12-31",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    detail = admin.get(r.headers["location"]).text
    assert f'href="/m/Accounts/{account_id}">Kestrel Freight</a>' in detail
    assert "48,000.00" in detail
    account = admin.get(f"/m/Accounts/{account_id}").text
    assert "Notes" in account and "Tasks" in account


def test_validation_error_is_shown_next_to_the_field_keeping_input(admin: Console) -> None:
    admin.get("/m/Deals/new")
    r = admin.post(
        "/m/Deals/new",
        {"Deal_Name": "Typed & kept", "Amount": "lots", "Stage": "Qualification"},
    )
    assert r.status_code == 422
    assert 'id="f-Amount" name="Amount" type="number" value="lots"' in r.text
    assert 'aria-invalid="true" aria-describedby="f-Amount-error"' in r.text
    assert re.search(r'id="f-Amount-error">Amount: enter an amount', r.text)
    assert 'value="Typed &amp; kept"' in r.text
    assert 'role="alert"' in r.text


def test_edit_clearing_a_required_field_is_refused(app: Any, admin: Console) -> None:
    rid = _account(app, "Required Ltd")
    admin.get(f"/m/Accounts/{rid}/edit")
    r = admin.post(f"/m/Accounts/{rid}/edit", {"Account_Name": "", "Phone": "555-1234"})
    assert r.status_code == 422
    assert "Account Name is required." in r.text
    assert 'value="555-1234"' in r.text
    r = admin.post(
        f"/m/Accounts/{rid}/edit", {"Account_Name": "Required Ltd 2"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?done=saved")


def test_edit_refuses_when_the_record_changed_meanwhile(app: Any, admin: Console) -> None:
    rid = _account(app, "Conflict Ltd")
    admin.get(f"/m/Accounts/{rid}/edit")
    r = admin.post(
        f"/m/Accounts/{rid}/edit",
        {"Account_Name": "Conflict Ltd", "modified": "2000-01-01T00:00:00+00:00"},
    )
    assert r.status_code == 422 and "changed by someone else" in r.text


def test_notes_can_be_added_on_the_detail_page(app: Any, admin: Console) -> None:
    rid = _account(app, "Noted Ltd")
    admin.get(f"/m/Accounts/{rid}")
    r = admin.post(
        f"/m/Accounts/{rid}/notes", {"Note_Title": "Call", "Note_Content": "Ring <b>back</b>"}
    )
    assert r.status_code == 200 and "Note added" in r.text
    assert "Ring &lt;b&gt;back&lt;/b&gt;" in r.text


def test_delete_asks_first_then_deletes(app: Any, admin: Console) -> None:
    rid = _account(app, "Doomed Ltd")
    assert "Delete Doomed Ltd?" in admin.get(f"/m/Accounts/{rid}/delete").text
    r = admin.post(f"/m/Accounts/{rid}/delete", follow_redirects=False)
    assert r.status_code == 303
    assert app.state.crm.records.get("Accounts", rid) is None


# ---------------------------------------------------------------------------------- functions


SOURCE = """string standalone.greet(int n, string who, map extra)
{
  info "greeting " + who;
  info extra;
  if (n > 5)
  {
    x = who.toLong();
  }
  return who + " x" + n;
}
"""


def _function(app: Any) -> None:
    from floodway.api.functions import service

    class _Req:
        def __init__(self, app: Any) -> None:
            self.app = app

    fx = service(_Req(app))  # type: ignore[arg-type]
    if fx.registry.find("greet") is None:
        fx.registry.create(SOURCE, author="test")


def test_functions_list_and_page_show_source_and_versions(app: Any, admin: Console) -> None:
    _function(app)
    listing = admin.get("/functions").text
    assert 'href="/functions/greet"' in listing and "draft v1" in listing
    page = admin.get("/functions/greet").text
    assert "info &#34;greeting &#34; + who;" in page or 'info "greeting " + who;' in page
    assert "v1" in page and 'name="arg.n"' in page and 'name="arg.extra"' in page


def test_run_a_draft_shows_info_return_statements_and_duration(app: Any, admin: Console) -> None:
    _function(app)
    admin.get("/functions/greet")
    r = admin.post(
        "/functions/greet/run",
        {"version": "1", "arg.n": "2", "arg.who": "<i>Bo</i>", "arg.extra": '{"a": 1}'},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert "success" in r.text and "greeting &lt;i&gt;Bo&lt;/i&gt;" in r.text
    assert "&lt;i&gt;Bo&lt;/i&gt; x2" in r.text
    assert re.search(r"[\d,]+ / 200,000 statements", r.text)
    assert re.search(r"[\d.]+ ms of 60 s", r.text)


def test_run_failure_shows_the_error_at_its_line(app: Any, admin: Console) -> None:
    _function(app)
    admin.get("/functions/greet")
    r = admin.post(
        "/functions/greet/run",
        {"version": "1", "arg.n": "9", "arg.who": "Bo", "arg.extra": "{}"},
        headers={"HX-Request": "true"},
    )
    assert "failure" in r.text and "Error at line 7" in r.text
    assert "▶   7" in r.text


def test_run_with_invalid_json_argument_is_not_run(app: Any, admin: Console) -> None:
    _function(app)
    admin.get("/functions/greet")
    r = admin.post(
        "/functions/greet/run", {"version": "1", "arg.n": "1", "arg.who": "x", "arg.extra": "{"}
    )
    assert r.status_code == 422
    assert "extra: not valid JSON" in r.text and 'aria-invalid="true"' in r.text
