"""The automation pages against the real automation service (SQLite and PostgreSQL): the workflow
rule builder writes the criteria grammar from rows and saves through the rule store, refused
saves show each problem next to its input with the typed values kept, buttons / related lists /
validation rules / schedules, the live next-run times, connections with the OAuth2 authorize
flow against a provider on 127.0.0.1, rights, CSRF and 404s."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from floodway.web import automation_forms as af

from .automation_app import WORKFLOW_ADMIN, build_app
from .conftest import Console, open_console


@pytest.fixture(scope="module")
def app(crm: Any) -> Iterator[Any]:
    yield from build_app(crm)


@pytest.fixture
def wanda(app: Any) -> Iterator[Console]:
    yield from open_console(app, WORKFLOW_ADMIN)


def _store(app: Any) -> Any:
    return app.state.automation.store


RULE_FORM = {
    "name": "Won deals",
    "module": "Deals",
    "on": "field_update",
    "fields": "Stage",
    "criteria_mode": "rows",
    "c1_field": "Stage",
    "c1_op": "equals",
    "c1_value": "Closed Won",
    "c2_join": "and",
    "c2_field": "Amount",
    "c2_op": "greater_than",
    "c2_value": "1000",
    "a1_kind": "function",
    "a1_function": "rollup",
    "a1_arg_dealId": "${Deals.id}",
    "a2_kind": "field_update",
    "a2_after": "3d",
    "a2_u1_field": "Next_Step",
    "a2_u1_value": "Follow up",
    "enabled": "on",
    "op": "save",
}


def test_criteria_rows_become_the_grammar_and_back() -> None:
    rows = [
        af.Cond("Stage", "equals", "Closed (Won)"),
        af.Cond("Amount", "greater_than", "10", "or"),
        af.Cond("Type", "in", "A, B", "and"),
    ]
    text = af.criteria_from_rows(rows)
    assert text == (r"(((Stage:equals:Closed \(Won\))or(Amount:greater_than:10))and(Type:in:A,B))")
    back = af.rows_from_criteria(text)
    assert back is not None
    assert [(r.field, r.op, r.value, r.join) for r in back] == [
        ("Stage", "equals", "Closed (Won)", "and"),
        ("Amount", "greater_than", "10", "or"),
        ("Type", "in", "A,B", "and"),
    ]
    assert af.criteria_from_rows([af.Cond("Stage", "equals", "X")]) == "(Stage:equals:X)"
    # A group nested on the right cannot be rows joined left to right: the text editor keeps it.
    assert af.rows_from_criteria("((A:equals:1)or((B:equals:2)and(C:equals:3)))") is None
    assert af.rows_from_criteria("(Stage:equals") is None


def test_builder_saves_a_rule_through_the_store(app: Any, admin: Console) -> None:
    assert admin.get("/automation/rules/new?module=Deals").status_code == 200
    r = admin.post("/automation/rules/new", RULE_FORM, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/automation/rules?module=Deals&done=created"
    (item,) = [i for i in _store(app).list("workflow") if i.name == "Won deals"]
    d = item.definition
    assert d["criteria"] == "((Stage:equals:Closed Won)and(Amount:greater_than:1000))"
    assert d["on"] == "field_update" and d["fields"] == ["Stage"]
    assert d["actions"] == [
        {"function": "rollup", "arguments": {"dealId": "${Deals.id}"}},
        {"field_update": {"Next_Step": "Follow up"}, "after": "3d"},
    ]
    listed = admin.get("/automation/rules?module=Deals&done=created")
    assert "Won deals" in listed.text and "Saved" not in listed.text
    assert 'role="status"' in listed.text  # the "Created" toast

    # The edit page shows the rule as rows again, and saving it unchanged keeps the definition.
    page = admin.get(f"/automation/rules/{item.id}")
    assert 'name="c2_value" value="1000"' in page.text
    assert "((Stage:equals:Closed Won)and(Amount:greater_than:1000))" in page.text
    assert "[[workflow]]" in page.text  # "Show as floodway.toml"
    again = admin.post(f"/automation/rules/{item.id}", RULE_FORM, follow_redirects=False)
    assert again.status_code == 303
    assert _store(app).get("workflow", item.id).definition == d


def test_refused_rule_keeps_input_and_names_the_part(app: Any, admin: Console) -> None:
    admin.get("/automation/rules/new")
    form = {
        **RULE_FORM,
        "name": "Typed name stays",
        "criteria_mode": "text",
        "criteria_text": "((Stage:equals:Won)and(Amount:greater_than",
        "a1_function": "nightly",
    }
    r = admin.post("/automation/rules/new", form)
    assert r.status_code == 422
    assert 'value="Typed name stays"' in r.text
    assert 'value="((Stage:equals:Won)and(Amount:greater_than"' in r.text
    assert 'id="f-criteria-error"' in r.text and 'aria-invalid="true"' in r.text
    assert 'id="f-actions-0-error"' in r.text
    assert "Action 1: function: " in r.text and "schedule function" in r.text
    assert 'class="summary" role="alert"' in r.text
    assert not [i for i in _store(app).list("workflow") if i.name == "Typed name stays"]


def test_builder_buttons_add_rows_without_saving(app: Any, admin: Console) -> None:
    admin.get("/automation/rules/new")
    before = len(_store(app).list("workflow"))
    base = {k: v for k, v in RULE_FORM.items() if not k.startswith(("c2_", "a2_"))}
    r = admin.post("/automation/rules/new", {**base, "name": "Draft", "op": "add_cond"})
    assert r.status_code == 200
    assert 'name="c2_field"' in r.text and 'value="Draft"' in r.text
    r = admin.post("/automation/rules/new", {**base, "op": "add_action:webhook"})
    assert 'name="a2_url"' in r.text and 'name="a2_kind" value="webhook"' in r.text
    r = admin.post("/automation/rules/new", {**base, "op": "del_action:0"})
    assert 'name="a1_kind"' not in r.text
    # The merge-field picker lists the module's fields, lookups expanded.
    assert 'value="${Deals.Account_Name.id}"' in r.text and 'value="${Deals.Owner.email}"' in r.text
    assert len(_store(app).list("workflow")) == before


def test_enable_disable_delete_and_404(app: Any, admin: Console) -> None:
    item = _store(app).create(
        "workflow",
        {
            "name": "Toggle me",
            "module": "Deals",
            "on": "create",
            "actions": [{"function": "rollup", "arguments": {"dealId": "${Deals.id}"}}],
        },
    )
    admin.get("/automation/rules")
    r = admin.post(f"/automation/rules/{item.id}/disable", follow_redirects=False)
    assert r.status_code == 303 and _store(app).get("workflow", item.id).enabled is False
    admin.post(f"/automation/rules/{item.id}/enable")
    assert _store(app).get("workflow", item.id).enabled is True
    admin.post(f"/automation/rules/{item.id}/delete")
    missing = admin.get(f"/automation/rules/{item.id}")
    assert missing.status_code == 404 and "may have been deleted" in missing.text
    assert admin.get("/automation/nothing").status_code == 404
    assert "Traceback" not in missing.text


def test_buttons_related_lists_and_validation_rules(app: Any, admin: Console) -> None:
    admin.get("/automation/buttons/new")
    r = admin.post(
        "/automation/buttons/new",
        {
            "name": "Say hello",
            "module": "Deals",
            "placement": "detail",
            "function": "greet",
            "arg_dealId": "${Deals.id}",
            "enabled": "on",
            "op": "save",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    (button,) = [i for i in _store(app).list("button") if i.name == "Say hello"]
    assert button.definition["arguments"] == {"dealId": "${Deals.id}"}
    preview = admin.get(f"/automation/buttons/{button.id}").text
    preview = preview.split('id="button-preview">')[1].split("</div>")[0]
    assert ">Say hello</span>" in preview and "beside Edit on a Deals record" in preview
    as_list = admin.post(
        f"/automation/buttons/{button.id}",
        {"name": "Say hello", "module": "Deals", "placement": "list", "op": "refresh"},
    ).text
    assert "Run: Say hello" in as_list.split('id="button-preview">')[1].split("</div>")[0]

    r = admin.post(
        "/automation/related-lists/new",
        {"name": "Invoices", "module": "Accounts", "function": "greet", "op": "save"},
    )
    assert r.status_code == 422 and 'id="f-function-error"' in r.text
    assert "button function" in r.text and 'value="Invoices"' in r.text
    r = admin.post(
        "/automation/related-lists/new",
        {
            "name": "Invoices",
            "module": "Accounts",
            "function": "invoices",
            "arg_accountId": "${Accounts.id}",
            "enabled": "on",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    r = admin.post(
        "/automation/validation/new",
        {"name": "Check", "module": "Deals", "function": "check_deal", "enabled": "on"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = admin.get("/automation/validation?module=Deals")
    assert "Check" in page.text and "check_deal" in page.text


def test_schedule_form_and_live_next_runs(app: Any, admin: Console) -> None:
    frag = admin.get(
        "/automation/schedules/next-runs",
        params={"timing": "daily", "expression": "02:00", "timezone": "UTC"},
    )
    assert frag.status_code == 200
    times = [t for t in frag.text.split('datetime="')[1:]]
    assert len(times) == 5 and all(t[11:19] == "02:00:00" for t in times)
    bad = admin.get(
        "/automation/schedules/next-runs", params={"timing": "cron", "expression": "0 2 * * 8"}
    )
    assert "day-of-week" in bad.text and "datetime=" not in bad.text

    admin.get("/automation/schedules/new")
    r = admin.post(
        "/automation/schedules/new",
        {"name": "Nightly", "function": "nightly", "timing": "cron", "expression": "61 2 * * *"},
    )
    assert r.status_code == 422 and 'id="f-expression-error"' in r.text
    assert 'value="61 2 * * *"' in r.text
    r = admin.post(
        "/automation/schedules/new",
        {
            "name": "Nightly",
            "function": "nightly",
            "timing": "cron",
            "expression": "0 2 * * *",
            "timezone": "Europe/Berlin",
            "catch_up": "on",
            "enabled": "on",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    (item,) = [i for i in _store(app).list("schedule") if i.name == "Nightly"]
    assert item.definition == {
        "name": "Nightly",
        "function": "nightly",
        "cron": "0 2 * * *",
        "timezone": "Europe/Berlin",
        "catch_up": True,
    }
    page = admin.get(f"/automation/schedules/{item.id}")
    assert page.text.count("<time datetime=") >= 5 and "Europe/Berlin" in page.text


def test_rights_and_csrf(app: Any, standard: Console, wanda: Console, admin: Console) -> None:
    for url in ("/automation/rules", "/automation/rules/new", "/automation/buttons"):
        r = standard.get(url)
        assert r.status_code == 403 and "cannot open Automation" in r.text
    r = standard.post("/automation/rules/new", RULE_FORM)
    assert r.status_code == 403
    assert standard.get("/connections").status_code == 403
    # manage_workflow alone: automation yes, connections and executions no.
    assert wanda.get("/automation/rules").status_code == 200
    assert wanda.get("/connections").status_code == 403
    nav = wanda.get("/automation/rules").text
    assert 'href="/automation"' in nav and 'href="/executions"' not in nav
    # A POST without the session's CSRF token changes nothing.
    admin.get("/automation/rules")
    r = admin.client.post("/automation/rules/new", data=RULE_FORM)
    assert r.status_code == 403 and "expired" in r.text


# ---------------------------------------------------------------------------------- connections


class _Provider(BaseHTTPRequestHandler):
    """A token endpoint: exchanges the code "good-code" for a refresh token."""

    seen: list[dict[str, list[str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        form = parse_qs(body)
        _Provider.seen.append(form)
        grant = form.get("grant_type", [""])[0]
        if grant == "authorization_code" and form.get("code") == ["good-code"]:
            payload = {"access_token": "at-1", "refresh_token": "rt-secret", "expires_in": 3600}
            status = 200
        elif grant == "refresh_token" and form.get("refresh_token") == ["rt-secret"]:
            payload, status = {"access_token": "at-2", "expires_in": 3600}, 200
        else:
            payload, status = {"error": "invalid_grant", "error_description": "bad code"}, 400
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_connections_create_list_delete(app: Any, admin: Console) -> None:
    admin.get("/connections/new?type=api_key")
    r = admin.post(
        "/connections/new",
        {"name": "billing", "type": "api_key", "api_key": "k-123", "op": "save"},
    )
    assert r.status_code == 422 and 'id="f-api_key_header-error"' in r.text
    assert 'value="billing"' in r.text and "k-123" not in r.text  # secrets are never echoed
    r = admin.post(
        "/connections/new",
        {
            "name": "billing",
            "type": "api_key",
            "api_key": "k-123",
            "api_key_header": "X-Api-Key",
            "hosts": "billing.example.com",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = admin.get("/connections")
    assert "billing" in page.text and "k-123" not in page.text and "sha256:" in page.text
    # Saving again with the secret left blank keeps it.
    admin.post(
        "/connections/billing",
        {"type": "api_key", "api_key_header": "X-Key", "hosts": "billing.example.com"},
    )
    spec = app.state.functions.connections.spec("billing")
    assert spec.api_key == "k-123" and spec.api_key_header == "X-Key"
    admin.post("/connections/billing/delete")
    assert admin.get("/connections/billing").status_code == 404


def test_oauth_authorize_redirect_and_callback(app: Any, admin: Console, provider: str) -> None:
    form = {
        "name": "pm_service",
        "type": "oauth2_authorization_code",
        "authorize_url": "https://id.example.com/oauth/authorize",
        "token_url": provider + "/token",
        "client_id": "cid",
        "client_secret": "csecret",
        "scopes": "projects.write",
        "op": "authorize",
    }
    admin.get("/connections/new")
    r = admin.post("/connections/new", form, follow_redirects=False)
    assert r.status_code == 303, r.text
    target = urlsplit(r.headers["location"])
    query = parse_qs(target.query)
    assert target.netloc == "id.example.com" and query["response_type"] == ["code"]
    assert query["client_id"] == ["cid"] and query["scope"] == ["projects.write"]
    assert query["redirect_uri"] == ["http://127.0.0.1/connections/oauth/callback"]
    state = query["state"][0]

    # The provider's refusal is shown; the state is used up.
    refused = admin.get(
        "/connections/oauth/callback",
        params={"state": state, "error": "access_denied", "error_description": "no"},
    )
    assert refused.status_code == 400 and "access_denied" in refused.text

    r = admin.post("/connections/new", form, follow_redirects=False)
    state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
    back = admin.get(
        "/connections/oauth/callback",
        params={"state": state, "code": "good-code"},
        follow_redirects=False,
    )
    assert back.status_code == 303 and back.headers["location"].endswith("done=authorized")
    spec = app.state.functions.connections.spec("pm_service")
    assert spec.refresh_token == "rt-secret" and spec.client_secret == "csecret"
    exchange = _Provider.seen[-1]
    assert exchange["code"] == ["good-code"] and exchange["client_secret"] == ["csecret"]
    page = admin.get("/connections/pm_service?done=authorized")
    assert "Connected — refresh token stored" in page.text and "rt-secret" not in page.text
    # A replayed state is refused; Test fetches a token with the stored refresh token.
    again = admin.get("/connections/oauth/callback", params={"state": state, "code": "good-code"})
    assert again.status_code == 400
    tested = admin.post("/connections/pm_service/test", {"url": ""})
    assert "Test passed" in tested.text and "Token fetched" in tested.text


def _blind_workflow_admin(app: Any) -> str:
    """A user who may manage workflow rules but read no Deals."""
    from floodway.crm import schema as t
    from floodway.db import write_transaction

    from .conftest import PASSWORD

    crm = app.state.crm
    email = "blind@example.test"
    if crm.users.profile_named("WorkflowBlind") is None:
        with write_transaction(crm.engine) as conn:
            conn.execute(
                t.profiles.insert().values(
                    id=crm.ids.next_id(),
                    org_id=crm.org_id,
                    name="WorkflowBlind",
                    rights={"modules": {"Accounts": ["read"]}, "permissions": ["manage_workflow"]},
                    created_time=crm.now_ms(),
                )
            )
    if crm.users.by_email(email) is None:
        crm.users.create(email, last_name="Blake", profile="WorkflowBlind", password=PASSWORD)
    return email


def test_test_criteria_counts_the_matching_records_with_examples(app: Any, admin: Console) -> None:
    from floodway.crm import Actor

    crm = app.state.crm
    alice = crm.users.by_email("alice@example.test")
    crm.records.create(
        "Deals",
        [
            {"Deal_Name": f"Criteria probe {i}", "Stage": "Closed Won", "Amount": 100 * i}
            for i in range(1, 8)
        ],
        actor=Actor(alice.id, "api", workflow=False),
    )
    form = {
        **RULE_FORM,
        "name": "Probe",
        "criteria_mode": "rows",
        "c1_field": "Deal_Name",
        "c1_op": "starts_with",
        "c1_value": "Criteria probe",
        "c2_field": "Amount",
        "c2_op": "greater_than",
        "c2_value": "250",
        "op": "test_criteria",
    }
    before = len(_store(app).list("workflow"))
    admin.get("/automation/rules/new")
    r = admin.post("/automation/rules/new", form)
    assert r.status_code == 200, r.text
    status = r.text.split('id="criteria-test">')[1].split("</p>")[0]
    assert status.startswith("5 deals match now:")  # 300 … 700
    assert status.count('href="/m/Deals/') == 5 and "Criteria probe" in status
    assert 'value="Probe"' in r.text  # the form keeps what was typed; nothing is saved
    assert len(_store(app).list("workflow")) == before

    one = admin.post("/automation/rules/new", {**form, "c2_value": "650"})
    assert "1 deal matches now:" in one.text and "Criteria probe 7" in one.text
    bad = admin.post(
        "/automation/rules/new",
        {**form, "criteria_mode": "text", "criteria_text": "(Amount:starts_with:1)"},
    )
    assert bad.status_code == 422 and 'id="f-criteria-error"' in bad.text
    assert "The criteria cannot be tested" in bad.text and 'id="criteria-test"' not in bad.text

    # Someone who may build rules but not read Deals learns the count, not the names.
    with contextmanager(open_console)(app, _blind_workflow_admin(app)) as blind:
        blind.get("/automation/rules/new")
        hidden = blind.post("/automation/rules/new", form)
    status = hidden.text.split('id="criteria-test">')[1].split("</p>")[0]
    assert status.startswith("5 deals match now") and "Criteria probe" not in status


def test_run_now_runs_the_schedule_once_without_touching_its_timing(
    app: Any, admin: Console
) -> None:
    auto = app.state.automation
    item = _store(app).create(
        "schedule", {"name": "Run me", "function": "nightly", "cron": "0 3 * * *"}
    )
    admin.get(f"/automation/schedules/{item.id}")
    r = admin.post(f"/automation/schedules/{item.id}/run", {}, follow_redirects=False)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert location.startswith("/executions?function=nightly&started=")
    eid = location.rsplit("=", 1)[1]
    assert "Run started" in admin.get(location).text
    auto.queue.start(concurrency=1)
    assert auto.queue.wait_idle(20)
    run = app.state.functions.executions.get(eid)
    assert run["status"] == "success" and run["info"] == ["night"]
    assert run["trigger"] == {"type": "schedule", "schedule": "Run me", "detail": "manual"}
    assert run["run_as"] == str(app.state.crm.users.by_email("alice@example.test").id)
    assert [t for t in item.next_runs(app.state.crm.clock(), "UTC", 1)]  # still planned
    page = admin.get(f"/automation/schedules/{item.id}")
    assert 'id="run-now"' in page.text
    assert admin.post("/automation/rules/1/run", {}).status_code == 404


PREVIEW_LIST = """string related_list.preview_rows(String accountId)
{
    account = zoho.crm.getRecordById("Accounts", accountId.toLong());
    return "<record><row no=\\"0\\"><FL val=\\"Account\\">" + account.get("Account_Name")
        + "</FL></row></record>";
}
"""
BIG_DEALS = """map validation.no_big_deals(map crmAPIRequest)
{
    record = crmAPIRequest.get("record");
    if(record.get("Amount") != null && record.get("Amount") > 1000)
    {
        return {"status": "error", "message": "Deals over 1,000 need approval"};
    }
    return {"status": "success"};
}
"""


def test_related_list_preview_with_a_record(app: Any, admin: Console) -> None:
    from floodway.crm import Actor

    crm, fx = app.state.crm, app.state.functions
    fx.registry.save("preview_rows", PREVIEW_LIST, create=True, publish=True)
    item = _store(app).create(
        "related_list",
        {
            "name": "Preview rows",
            "module": "Accounts",
            "function": "preview_rows",
            "arguments": {"accountId": "${Accounts.id}"},
        },
    )
    alice = crm.users.by_email("alice@example.test")
    [made] = crm.records.create(
        "Accounts", [{"Account_Name": "Preview Co"}], actor=Actor(alice.id, "api", False)
    )
    account = made["details"]["id"]
    try:
        page = admin.get(f"/automation/related-lists/{item.id}")
        assert 'id="preview-record"' in page.text
        shown = admin.get(
            f"/automation/related-lists/{item.id}/preview",
            params={"record": f"http://127.0.0.1:8000/m/Accounts/{account}"},
        )
        assert shown.status_code == 200
        table = shown.text.split('id="preview-table">')[1].split("</table>")[0]
        assert "<th>Account</th>" in table and "<td>Preview Co</td>" in table
        raw = shown.text.split('id="preview-raw">')[1].split("</pre>")[0]
        assert raw.startswith("&lt;record&gt;&lt;row no=") and 'id="preview-run"' in shown.text
        run = fx.executions.get(shown.text.split('href="/executions/')[1].split('"')[0])
        assert run["trigger"]["type"] == "related_list" and run["status"] == "success"

        missing = admin.get(f"/automation/related-lists/{item.id}/preview", params={"record": ""})
        assert 'id="preview-problem"' in missing.text and "Accounts record" in missing.text
        gone = admin.get(
            f"/automation/related-lists/{item.id}/preview", params={"record": "123456789"}
        )
        assert 'id="preview-problem"' in gone.text
        assert admin.get(f"/automation/buttons/{item.id}/preview").status_code == 404
    finally:
        _store(app).delete("related_list", item.id)


def test_validation_rule_test_with_a_record(app: Any, admin: Console) -> None:
    from floodway.crm import Actor

    crm, fx = app.state.crm, app.state.functions
    fx.registry.save("no_big_deals", BIG_DEALS, create=True, publish=True)
    # Disabled: a test does not need the rule on, and other saves stay unaffected.
    item = _store(app).create(
        "validation",
        {"name": "No big deals", "module": "Deals", "function": "no_big_deals"},
        enabled=False,
    )
    alice = crm.users.by_email("alice@example.test")
    [made] = crm.records.create(
        "Deals",
        [{"Deal_Name": "Small one", "Stage": "Qualification", "Amount": 500}],
        actor=Actor(alice.id, "api", False),
    )
    deal = made["details"]["id"]
    url = f"/automation/validation/{item.id}/test"
    try:
        page = admin.get(f"/automation/validation/{item.id}")
        assert 'id="test-values"' in page.text
        allowed = admin.post(url, {"record": deal, "values": ""})
        assert "Would allow the save." in allowed.text and 'id="preview-run"' in allowed.text
        blocked = admin.post(url, {"record": deal, "values": '{"Amount": 5000}'})
        verdict = blocked.text.split('id="preview-verdict"')[1].split("</p>")[0]
        assert "Would block the save: Deals over 1,000 need approval" in verdict
        run_id = blocked.text.split('href="/executions/')[1].split('"')[0]
        run = fx.executions.get(run_id)
        assert run["trigger"]["detail"] == "test" and run["trigger"]["operation"] == "update"
        assert crm.records.get("Deals", deal)["Amount"] == 500  # nothing was saved

        new = admin.post(url, {"values": '{"Deal_Name": "New", "Stage": "Qualification"}'})
        assert "Would allow the save." in new.text
        refused = admin.post(url, {"values": '{"Amount": "lots"}'})
        assert 'id="preview-problem"' in refused.text and "refused before the rule" in refused.text
        not_json = admin.post(url, {"values": '{"Amount": '})
        assert "Values: not JSON" in not_json.text and "line 1" in not_json.text
        gone = admin.post(url, {"record": "123456789", "values": ""})
        assert "no Deals record with id 123456789" in gone.text
        typo = admin.post(url, {"record": "12a", "values": ""})
        assert "is not a record id" in typo.text and 'id="preview-run"' not in typo.text
    finally:
        _store(app).delete("validation", item.id)


def test_next_runs_say_what_daylight_saving_does(admin: Console) -> None:
    # Sundays of March at 02:30 in Berlin: the next five always include the last Sunday of
    # March, when 02:00–02:59 does not exist there.
    frag = admin.get(
        "/automation/schedules/next-runs",
        params={"timing": "cron", "expression": "30 2 * 3 0", "timezone": "Europe/Berlin"},
    )
    notes = frag.text.split('id="dst-notes">')[1].split("</ul>")[0]
    assert "skipped: 02:30 does not exist on" in notes and " Mar" in notes
    plain = admin.get(
        "/automation/schedules/next-runs",
        params={"timing": "cron", "expression": "30 2 * 3 0", "timezone": "UTC"},
    )
    assert 'id="dst-notes"' not in plain.text


def test_rules_move_earlier_and_later_from_the_list(app: Any, admin: Console) -> None:
    store = _store(app)
    made = [
        store.create(
            "workflow",
            {
                "name": f"Ordered {n}",
                "module": "Leads",
                "on": "create",
                "actions": [{"function": "rollup", "arguments": {"dealId": "${Leads.id}"}}],
            },
        )
        for n in (1, 2)
    ]
    try:
        listed = admin.get("/automation/rules?module=Leads")
        assert 'aria-label="Run Ordered 2 earlier"' in listed.text
        assert 'aria-label="Run Ordered 1 earlier" disabled' in listed.text
        assert "choose a module" not in admin.get("/automation/rules?module=Leads").text
        r = admin.post(f"/automation/rules/{made[1].id}/up", {}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith("done=moved")
        assert [i.name for i in store.list("workflow", module="Leads")] == [
            "Ordered 2",
            "Ordered 1",
        ]
        assert "Order changed" in admin.get(r.headers["location"]).text
        assert admin.post(f"/automation/buttons/{made[0].id}/up", {}).status_code == 404
    finally:
        for item in made:
            store.delete("workflow", item.id)


def test_run_now_by_a_workflow_admin_stays_on_the_schedule(app: Any, wanda: Console) -> None:
    item = _store(app).create(
        "schedule", {"name": "Wanda runs", "function": "nightly", "cron": "0 4 * * *"}
    )
    try:
        wanda.get(f"/automation/schedules/{item.id}")
        r = wanda.post(f"/automation/schedules/{item.id}/run", {}, follow_redirects=False)
        # The executions log needs manage_functions, which this profile lacks.
        assert r.headers["location"] == f"/automation/schedules/{item.id}?done=started"
        assert "Run started" in wanda.get(r.headers["location"]).text
    finally:
        _store(app).delete("schedule", item.id)
