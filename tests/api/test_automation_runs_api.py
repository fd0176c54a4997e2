"""The synchronous automation endpoints (automation-service-api.md §3): running buttons, function-fed
related lists, a record's scheduled actions, the webhook outbox, and validation rules seen through
the records API. SQLite and PostgreSQL, real automation service and job queue."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from floodway.api.automation_runs import MAX_SYNC_RUNS, RunSlots
from floodway.api.config import ApiConfig
from floodway.api.errors import ZohoError
from floodway.automation.service import Automation
from floodway.functions.service import Functions
from floodway.jobs import open_queue
from floodway.settings import Settings


@pytest.fixture(scope="module")
def auto(crm: Any) -> Iterator[Any]:
    settings = Settings()
    fx = Functions(crm, settings)
    queue = open_queue(crm.engine, settings, clock=crm.clock)
    automation = Automation(crm, fx, queue, settings)
    try:
        yield automation
    finally:
        automation.close()


@pytest.fixture(scope="module")
def app_client(crm: Any, auto: Any) -> Any:
    from fastapi.testclient import TestClient

    from floodway.api.app import create_app

    app = create_app(
        crm,
        config=ApiConfig(rate_limit_per_s=0),
        functions=auto.functions,
        automation=auto,
    )
    return TestClient(app, raise_server_exceptions=False)


def _token(client: Any, crm: Any, name: str, **kwargs: Any) -> dict[str, str]:
    sc = crm.oauth.create_self_client(name, **kwargs)
    token = client.post("/oauth/v2/token", data={"grant_type": "refresh_token", **sc}).json()
    return {"Authorization": f"Zoho-oauthtoken {token['access_token']}"}


@pytest.fixture(scope="module")
def admin(app_client: Any, crm: Any) -> dict[str, str]:
    return _token(app_client, crm, "runs-admin")


@pytest.fixture(scope="module")
def standard(app_client: Any, crm: Any) -> dict[str, str]:
    user, _ = crm.users.create(
        f"runs-std-{secrets.token_hex(3)}@example.com", first_name="Std", last_name="User"
    )
    return _token(app_client, crm, "runs-std", user_id=str(user.id))


def _deploy(auto: Any, source: str) -> str:
    return str(auto.functions.registry.create(source, publish=True).function.api_name)


def _deal(client: Any, auth: dict[str, str], **fields: Any) -> str:
    row = {"Deal_Name": "API " + secrets.token_hex(3), "Stage": "Qualification", **fields}
    res = client.post("/crm/v2/Deals", json={"data": [row]}, headers=auth)
    assert res.status_code == 201, res.text
    return str(res.json()["data"][0]["details"]["id"])


def _name() -> str:
    return "x_" + secrets.token_hex(4)


def test_button_run(app_client: Any, auto: Any, admin: Any, standard: Any) -> None:
    api = _deploy(
        auto,
        f"string button.{_name()}(String dealId)\n{{\n"
        '    openUrl("https://p.example.com/" + dealId, "new window");\n'
        '    return "Clicked " + dealId;\n}\n',
    )
    bid = auto.store.create(
        "button",
        {
            "name": _name(),
            "module": "Deals",
            "function": api,
            "arguments": {"dealId": "${Deals.id}"},
        },
    ).id
    rid = _deal(app_client, admin)
    res = app_client.post(f"/api/buttons/{bid}/run", json={"ids": [rid]}, headers=standard)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["message"] == f"Clicked {rid}"
    assert body["url"] == f"https://p.example.com/{rid}"
    assert auto.functions.executions.get(body["execution_id"])["trigger"]["type"] == "button"
    # request problems
    cases = [
        ({"ids": [rid, rid + "1"]}, bid, 400, "INVALID_DATA"),
        ({}, bid, 400, "MANDATORY_NOT_FOUND"),
        ({"ids": "x"}, bid, 400, "INVALID_DATA"),
        ({"ids": [str(10**17)]}, bid, 404, "NOT_FOUND"),
        ({"ids": [rid]}, str(10**17), 404, "NOT_FOUND"),
        ({"ids": [rid]}, "abc", 400, "INVALID_DATA"),
    ]
    for payload, target, status, code in cases:
        res = app_client.post(f"/api/buttons/{target}/run", json=payload, headers=admin)
        assert res.status_code == status, (payload, res.text)
        assert res.json()["code"] == code
    assert app_client.post(f"/api/buttons/{bid}/run", json={"ids": [rid]}).status_code == 401
    settings_only = _token(app_client, auto.crm, "runs-settings", scopes=["ZohoCRM.settings.ALL"])
    res = app_client.post(f"/api/buttons/{bid}/run", json={"ids": [rid]}, headers=settings_only)
    assert res.status_code == 401 and res.json()["code"] == "OAUTH_SCOPE_MISMATCH"


def test_failing_button_is_http_200_with_the_message(
    app_client: Any, auto: Any, admin: Any
) -> None:
    api = _deploy(auto, f'string button.{_name()}()\n{{\n    x = 1 / 0;\n    return "no";\n}}\n')
    bid = auto.store.create("button", {"name": _name(), "module": "Deals", "function": api}).id
    rid = _deal(app_client, admin)
    res = app_client.post(f"/api/buttons/{bid}/run", json={"ids": [rid]}, headers=admin)
    assert res.status_code == 200
    assert res.json()["message"].startswith("The function failed: ")
    assert res.json()["execution_id"]


def test_related_list_route(app_client: Any, auto: Any, admin: Any, standard: Any) -> None:
    api = _deploy(
        auto,
        f"string related_list.{_name()}(String dealId)\n{{\n"
        '    return "<record><row no=\\"0\\"><FL val=\\"Id\\">" + dealId + "</FL></row></record>";'
        "\n}\n",
    )
    lid = auto.store.create(
        "related_list",
        {
            "name": _name(),
            "module": "Deals",
            "function": api,
            "arguments": {"dealId": "${Deals.id}"},
        },
    ).id
    rid = _deal(app_client, admin)
    path = f"/api/records/Deals/{rid}/related-functions/{lid}"
    res = app_client.get(path, headers=standard)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["columns"] == ["Id"] and body["rows"] == [{"Id": rid}]
    assert body["error"] is None and body["execution_id"]
    res = app_client.get(f"/api/records/NoSuchModule/{rid}/related-functions/{lid}", headers=admin)
    assert res.status_code == 400 and res.json()["code"] == "INVALID_MODULE"
    res = app_client.get(f"/api/records/Deals/{10**17}/related-functions/{lid}", headers=admin)
    assert res.status_code == 404
    res = app_client.get(f"/api/records/Accounts/{rid}/related-functions/{lid}", headers=admin)
    assert res.status_code == 404
    assert app_client.get(path).status_code == 401


def test_validation_rules_through_the_records_api(app_client: Any, auto: Any, admin: Any) -> None:
    api = _deploy(
        auto,
        f"map validation.{_name()}(map crmAPIRequest)\n{{\n"
        '    if (crmAPIRequest.get("record").get("Amount") < 0)\n'
        '    {\n        return {"status": "error", "message": "Amount must be positive"};\n    }\n'
        '    return {"status": "success"};\n}\n',
    )
    item = auto.store.create(
        "validation", {"name": "Positive amounts", "module": "Deals", "function": api}
    )
    try:
        rows = [
            {"Deal_Name": _name(), "Stage": "S", "Amount": -1},
            {"Deal_Name": _name(), "Stage": "S", "Amount": 1},
        ]
        res = app_client.post("/crm/v2/Deals", json={"data": rows}, headers=admin)
        assert res.status_code == 207, res.text
        data = res.json()["data"]
        assert data[0] == {
            "code": "INVALID_DATA",
            "details": {"validation_rule": "Positive amounts"},
            "message": "Amount must be positive",
            "status": "error",
        }
        assert data[1]["status"] == "success"
        rid = data[1]["details"]["id"]
        res = app_client.put(f"/crm/v2/Deals/{rid}", json={"data": [{"Amount": -5}]}, headers=admin)
        assert res.status_code == 400
        assert res.json()["data"][0]["details"] == {"validation_rule": "Positive amounts"}
    finally:
        auto.store.delete("validation", item.id)


def test_scheduled_actions_route(app_client: Any, admin: Any, standard: Any) -> None:
    rid = _deal(app_client, admin)
    res = app_client.get(f"/api/records/Deals/{rid}/scheduled-actions", headers=admin)
    assert res.status_code == 200, res.text
    assert res.json() == {"scheduled_actions": []}
    res = app_client.get(f"/api/records/Deals/{rid}/scheduled-actions", headers=standard)
    assert res.status_code == 403


def test_webhook_routes(app_client: Any, admin: Any, standard: Any) -> None:
    res = app_client.get("/api/webhooks", headers=admin)
    assert res.status_code == 200 and isinstance(res.json()["webhooks"], list)
    assert app_client.get("/api/webhooks?status=failed", headers=admin).status_code == 200
    res = app_client.get("/api/webhooks?status=lost", headers=admin)
    assert res.status_code == 400 and res.json()["details"] == {"param_name": "status"}
    assert app_client.get("/api/webhooks", headers=standard).status_code == 403
    res = app_client.post(f"/api/webhooks/{10**17}/resend", headers=admin)
    assert res.status_code == 404 and res.json()["code"] == "NOT_FOUND"
    assert app_client.post(f"/api/webhooks/{10**17}/resend", headers=standard).status_code == 403


def test_synchronous_runs_per_user_are_limited() -> None:
    slots = RunSlots()
    held = [slots.take("u1") for _ in range(MAX_SYNC_RUNS)]
    for cm in held:
        cm.__enter__()
    with pytest.raises(ZohoError) as e, slots.take("u1"):
        pass
    assert e.value.status == 429 and e.value.code == "TOO_MANY_REQUESTS"
    with slots.take("u2"):  # other users are not affected
        pass
    held[0].__exit__(None, None, None)
    with slots.take("u1"):
        pass
    for cm in held[1:]:
        cm.__exit__(None, None, None)
    assert slots._running == {}
