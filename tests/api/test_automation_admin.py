"""The automation admin API through the app (``/api/workflows``, ``/api/buttons``,
``/api/related-lists``, ``/api/validation-rules``, ``/api/schedules``) on SQLite and PostgreSQL:
CRUD, validation errors naming the part, duplicates, permissions, and a rule's activity."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from floodway.api.config import ApiConfig

SOURCES = {
    "rollup": "void automation.rollup(Int accountId)\n{\n    info accountId;\n}\n",
    "nightly": 'void schedule.nightly()\n{\n    info "night";\n}\n',
    "create_project": 'string button.create_project(Int dealId)\n{\n    return "ok";\n}\n',
    "account_invoices": (
        "string related_list.account_invoices(Int accountId)\n{\n"
        '    return "<record></record>";\n}\n'
    ),
    "check_deal": (
        'map validation.check_deal(map crmAPIRequest)\n{\n    return {"status": "success"};\n}\n'
    ),
}
RULE = {
    "name": "Roll up revenue",
    "module": "Deals",
    "on": "create_or_edit",
    "criteria": "(Stage:equals:Closed Won)",
    "actions": [{"function": "rollup", "arguments": {"accountId": "${Deals.Account_Name.id}"}}],
}


@pytest.fixture(scope="module", autouse=True)
def functions(client: Any, auth: dict[str, str]) -> None:
    for source in SOURCES.values():
        made = client.post("/api/functions", headers=auth, json={"source": source, "publish": True})
        assert made.status_code == 201, made.text


def _token(client: Any, crm: Any, name: str, **kwargs: Any) -> dict[str, str]:
    sc = crm.oauth.create_self_client(name, **kwargs)
    token = client.post("/oauth/v2/token", data={"grant_type": "refresh_token", **sc}).json()
    return {"Authorization": f"Zoho-oauthtoken {token['access_token']}"}


def test_workflow_crud(client: Any, auth: dict[str, str]) -> None:
    made = client.post("/api/workflows", headers=auth, json=RULE)
    assert made.status_code == 201, made.text
    item = made.json()
    assert item["enabled"] is True and item["name"] == "Roll up revenue"
    assert item["actions"] == RULE["actions"] and item["created_time"].endswith("Z")
    wid = item["id"]

    listed = client.get("/api/workflows", headers=auth, params={"module": "deals"}).json()
    assert [w["id"] for w in listed["workflows"]] == [wid]
    assert client.get("/api/workflows?module=Accounts", headers=auth).json() == {"workflows": []}
    assert client.get(f"/api/workflows/{wid}", headers=auth).json() == item

    # What a client got may be sent back with changes (read-only keys are ignored).
    changed = {**item, "criteria": "(Amount:greater_than:1000)"}
    put = client.put(f"/api/workflows/{wid}", headers=auth, json=changed)
    assert put.status_code == 200, put.text
    assert put.json()["criteria"] == "(Amount:greater_than:1000)" and put.json()["id"] == wid

    off = client.post(f"/api/workflows/{wid}/disable", headers=auth)
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert client.get(f"/api/workflows/{wid}", headers=auth).json()["enabled"] is False
    on = client.post(f"/api/workflows/{wid}/enable", headers=auth)
    assert on.json()["enabled"] is True
    again = client.put(f"/api/workflows/{wid}", headers=auth, json={**changed, "enabled": False})
    assert again.json()["enabled"] is False

    gone = client.delete(f"/api/workflows/{wid}", headers=auth)
    assert gone.status_code == 204 and gone.content == b""
    missing = client.get(f"/api/workflows/{wid}", headers=auth)
    assert missing.status_code == 404
    assert missing.json() == {
        "code": "NOT_FOUND",
        "details": {"id": wid},
        "message": "no workflow rule has this id",
        "status": "error",
    }
    assert client.delete(f"/api/workflows/{wid}", headers=auth).status_code == 404
    assert client.post("/api/workflows/abc/enable", headers=auth).status_code == 404


def test_invalid_and_duplicate_definitions(client: Any, auth: dict[str, str]) -> None:
    bad = client.post(
        "/api/workflows", headers=auth, json={**RULE, "name": "Bad", "criteria": "(Stage:equals"}
    )
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == "INVALID_DATA" and body["status"] == "error"
    assert body["details"] == {"field": "criteria"} and "column" in body["message"]

    wrong = {**RULE, "name": "Wrong", "actions": [{"function": "nightly"}]}
    body = client.post("/api/workflows", headers=auth, json=wrong).json()
    assert body["details"] == {"field": "actions[0].function"}
    assert body["message"] == (
        'function "nightly" is a schedule function; a workflow action needs an automation function'
    )

    cron = client.post(
        "/api/schedules", headers=auth, json={"name": "Bad", "function": "nightly", "cron": "* *"}
    )
    assert cron.status_code == 400 and cron.json()["details"] == {"field": "cron"}
    for body in ([1, 2], "text", None):
        response = client.post("/api/buttons", headers=auth, json=body)
        assert response.status_code == 400 and response.json()["code"] == "INVALID_DATA"
    flag = client.post("/api/workflows", headers=auth, json={**RULE, "enabled": "yes"})
    assert flag.status_code == 400 and flag.json()["details"] == {"field": "enabled"}

    first = client.post("/api/workflows", headers=auth, json={**RULE, "name": "Dup"})
    assert first.status_code == 201
    dup = client.post("/api/workflows", headers=auth, json={**RULE, "name": "DUP"})
    assert dup.status_code == 409
    assert dup.json() == {
        "code": "DUPLICATE_DATA",
        "details": {"field": "name"},
        "message": 'a workflow rule named "DUP" already exists on Deals',
        "status": "error",
    }
    disabled = client.post(
        "/api/workflows", headers=auth, json={**RULE, "name": "Off", "enabled": False}
    )
    assert disabled.status_code == 201 and disabled.json()["enabled"] is False


def test_every_kind_has_its_routes(client: Any, auth: dict[str, str]) -> None:
    cases = [
        (
            "/api/buttons",
            "buttons",
            {
                "name": "Create project",
                "module": "Deals",
                "function": "create_project",
                "arguments": {"dealId": "${Deals.id}"},
            },
        ),
        (
            "/api/related-lists",
            "related_lists",
            {
                "name": "Invoices",
                "module": "Accounts",
                "function": "account_invoices",
                "arguments": {"accountId": "${Accounts.id}"},
            },
        ),
        (
            "/api/validation-rules",
            "validation_rules",
            {"name": "Deal check", "module": "Deals", "function": "check_deal"},
        ),
        (
            "/api/schedules",
            "schedules",
            {"name": "Nightly", "function": "nightly", "cron": "0 2 * * *", "catch_up": True},
        ),
    ]
    for path, key, table in cases:
        made = client.post(path, headers=auth, json=table)
        assert made.status_code == 201, (path, made.text)
        item = made.json()
        assert {k: item[k] for k in table} == table
        listed = client.get(path, headers=auth).json()
        assert item["id"] in [i["id"] for i in listed[key]], path
        off = client.post(f"{path}/{item['id']}/disable", headers=auth)
        assert off.status_code == 200 and off.json()["enabled"] is False
        assert client.delete(f"{path}/{item['id']}", headers=auth).status_code == 204
        assert client.get(f"{path}/{item['id']}", headers=auth).status_code == 404
    schedule = client.post(
        "/api/schedules",
        headers=auth,
        json={"name": "Hourly", "function": "nightly", "every": "1h"},
    ).json()
    assert len(schedule["next_runs"]) == 5
    assert all(t.endswith(":00:00.000Z") for t in schedule["next_runs"])


def test_permissions(client: Any, crm: Any, auth: dict[str, str]) -> None:
    made = client.post(
        "/api/buttons",
        headers=auth,
        json={"name": "Visible", "module": "Deals", "function": "create_project"},
    )
    assert made.status_code == 201
    bid = made.json()["id"]
    admin_paths = [
        ("GET", "/api/workflows"),
        ("POST", "/api/workflows"),
        ("GET", "/api/validation-rules"),
        ("GET", "/api/schedules/1"),
        ("POST", "/api/buttons"),
        ("PUT", f"/api/buttons/{bid}"),
        ("DELETE", f"/api/buttons/{bid}"),
        ("POST", f"/api/buttons/{bid}/disable"),
        ("GET", "/api/workflows/1/activity"),
    ]
    for method, path in [*admin_paths, ("GET", "/api/buttons")]:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)

    user, _ = crm.users.create("auto-std@example.com", first_name="Std", last_name="User")
    standard = _token(client, crm, "auto-std", user_id=str(user.id))
    for method, path in admin_paths:
        response = client.request(method, path, headers=standard, json={})
        assert response.status_code == 403, (method, path)
        assert response.json()["details"] == {"permission": "manage_workflow"}
    # Buttons and related lists are listed for everyone signed in (record pages show them).
    assert bid in [b["id"] for b in client.get("/api/buttons", headers=standard).json()["buttons"]]
    assert client.get(f"/api/buttons/{bid}", headers=standard).status_code == 200
    assert client.get("/api/related-lists", headers=standard).status_code == 200

    records_only = _token(client, crm, "auto-records", scopes=["ZohoCRM.modules.ALL"])
    assert client.get("/api/buttons", headers=records_only).status_code == 200
    denied = client.get("/api/workflows", headers=records_only)
    assert denied.status_code == 401 and denied.json()["code"] == "OAUTH_SCOPE_MISMATCH"


@pytest.fixture(scope="module")
def running(crm: Any) -> Iterator[tuple[Any, Any]]:
    """An app given an ``Automation`` (not attached: nothing here needs jobs to run)."""
    from fastapi.testclient import TestClient

    from floodway.api.app import create_app
    from floodway.automation.service import Automation
    from floodway.functions.service import Functions
    from floodway.jobs import open_queue

    fx = Functions(crm)
    auto = Automation(crm, fx, open_queue(crm.engine, None, clock=crm.clock), attach=False)
    app = create_app(crm, config=ApiConfig(rate_limit_per_s=0), functions=fx, automation=auto)
    yield TestClient(app, raise_server_exceptions=False), auto
    auto.close()


def test_activity_of_a_workflow_rule(
    client: Any, running: tuple[Any, Any], crm: Any, auth: dict[str, str]
) -> None:
    from floodway.automation import schema as tables
    from floodway.db import write_transaction

    app_client, auto = running
    made = app_client.post("/api/workflows", headers=auth, json={**RULE, "name": "Logged"})
    assert made.status_code == 201, made.text
    wid = made.json()["id"]
    # The app's store is the Automation's: its active rules see the new rule at once.
    assert wid in [i.id for i in auto.store.active("workflow", "Deals")]
    with write_transaction(crm.engine) as conn:
        conn.execute(
            tables.automation_activity.insert().values(
                id=crm.ids.next_id(),
                org_id=crm.org_id,
                rule_id=int(wid),
                rule="Logged",
                module="Deals",
                record_id=42,
                action_index=0,
                kind="field_update",
                status="skipped",
                message="loop guard: chain depth 5 reached",
                chain_depth=5,
                created_ms=crm.now_ms(),
            )
        )
    found = app_client.get(f"/api/workflows/{wid}/activity", headers=auth)
    assert found.status_code == 200, found.text
    [entry] = found.json()["activity"]
    assert entry["rule_id"] == wid and entry["status"] == "skipped"
    assert entry["message"] == "loop guard: chain depth 5 reached"
    other = app_client.get(f"/api/workflows/{wid}/activity?record_id=7", headers=auth)
    assert other.json() == {"activity": []}
    assert app_client.get("/api/workflows/1/activity", headers=auth).status_code == 404
    bad = app_client.get(f"/api/workflows/{wid}/activity?limit=0", headers=auth)
    assert bad.status_code == 400
    # Without an Automation the route says automation is not enabled.
    assert client.get(f"/api/workflows/{wid}/activity", headers=auth).status_code == 501
