"""The functions admin API (``/api/functions``) and the executions API (``/api/executions``).

On SQLite and PostgreSQL: create, versions (drafts), publish, rollback, settings, REST exposure,
delete, test runs; listing executions by function, status, trigger and time with paging; one
execution; "Run again"; permissions (manage_functions, scopes); the OpenAPI schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

V1 = """string standalone.greet(String name)
{
    info "greeting " + name;
    return "Hello " + name;
}"""

V2 = """string standalone.greet(String name)
{
    return "Hi " + name;
}"""

V3 = """string standalone.greet(String name)
{
    return "Hey " + name;
}"""

BROKEN = """string standalone.greet(String name)
{
    return "Hi " +;
}"""

DIVIDE = """Int standalone.divide(Int a, Int b)
{
    info "dividing";
    return a / b;
}"""


def _create(client: Any, auth: dict[str, str], source: str, **extra: Any) -> Any:
    response = client.post("/api/functions", headers=auth, json={"source": source, **extra})
    assert response.status_code == 201, response.text
    return response.json()


# ---- registry ---------------------------------------------------------------------------------


def test_lifecycle(client: Any, auth: dict[str, str]) -> None:
    made = _create(client, auth, V1, description="says hello")
    fn = made["function"]
    assert made["function_created"] and made["version_created"] and not made["published"]
    assert fn["api_name"] == "greet" and fn["category"] == "standalone"
    assert fn["return_type"] == "string"
    assert fn["arguments"] == [{"name": "name", "type": "String"}]
    assert fn["live_version"] is None and fn["latest_version"] == 1
    assert fn["rest_enabled"] is False  # secure by default
    assert made["version"]["status"] == "draft"

    # A draft is not live: the default test run has nothing to run, a versioned one does.
    no_live = client.post("/api/functions/greet/execute", headers=auth, json={})
    assert no_live.status_code == 409
    assert no_live.json()["code"] == "NO_LIVE_VERSION"
    draft_run = client.post(
        "/api/functions/greet/execute",
        headers=auth,
        json={"arguments": {"name": "Ana"}, "version": 1},
    )
    assert draft_run.status_code == 200, draft_run.text
    assert draft_run.json()["output"] == "Hello Ana"
    assert draft_run.json()["info"] == ["greeting Ana"]

    published = client.post("/api/functions/GREET/publish", headers=auth, json={})
    assert published.status_code == 200, published.text
    assert published.json()["function"]["live_version"] == 1

    saved = client.post("/api/functions/greet/versions", headers=auth, json={"source": V2})
    assert saved.status_code == 201, saved.text
    assert saved.json()["version"]["number"] == 2
    assert saved.json()["function"]["live_version"] == 1  # saving never publishes by itself
    same = client.post("/api/functions/greet/versions", headers=auth, json={"source": V2})
    assert same.status_code == 200
    assert same.json()["version_created"] is False

    live_run = client.post(
        "/api/functions/greet/execute", headers=auth, json={"arguments": {"name": "Bo"}}
    )
    assert live_run.json()["output"] == "Hello Bo"
    assert live_run.json()["version"] == 1

    three = client.post(
        "/api/functions/greet/versions", headers=auth, json={"source": V3, "publish": True}
    )
    assert three.status_code == 201
    assert three.json()["published"] is True
    assert three.json()["function"]["live_version"] == 3

    # Rollback without a number: the newest earlier published version (1; 2 was never live).
    back = client.post("/api/functions/greet/rollback", headers=auth)
    assert back.status_code == 200, back.text
    assert back.json()["function"]["live_version"] == 1
    forward = client.post("/api/functions/greet/rollback", headers=auth, json={"version": 2})
    assert forward.json()["function"]["live_version"] == 2

    detail = client.get("/api/functions/greet", headers=auth).json()
    assert [v["number"] for v in detail["versions"]] == [3, 2, 1]
    assert [v["live"] for v in detail["versions"]] == [False, True, False]
    assert detail["live"]["number"] == 2 and detail["live"]["source"] == V2
    assert "source" not in detail["versions"][0]
    one = client.get("/api/functions/greet/versions/1", headers=auth).json()["version"]
    assert one["source"] == V1 and one["status"] == "published"
    listed = client.get("/api/functions/greet/versions", headers=auth).json()["versions"]
    assert len(listed) == 3

    names = [f["api_name"] for f in client.get("/api/functions", headers=auth).json()["functions"]]
    assert "greet" in names
    by_category = client.get("/api/functions?category=button", headers=auth).json()
    assert by_category["functions"] == []


def test_settings_and_rest_switch(client: Any, auth: dict[str, str]) -> None:
    _create(client, auth, DIVIDE.replace("divide", "settings_fn"), publish=True)
    changed = client.patch(
        "/api/functions/settings_fn",
        headers=auth,
        json={"display_name": "Settings", "timeout_s": 5, "description": "d"},
    )
    assert changed.status_code == 200, changed.text
    fn = changed.json()["function"]
    assert (fn["display_name"], fn["timeout_s"], fn["description"]) == ("Settings", 5.0, "d")
    on = client.put("/api/functions/settings_fn/rest", headers=auth, json={"enabled": True})
    assert on.json()["function"]["rest_enabled"] is True
    assert "primary admin" in on.json()["warning"]
    oauth = client.put(
        "/api/functions/settings_fn/rest",
        headers=auth,
        json={"enabled": True, "rest_auth": "oauth"},
    )
    assert oauth.json()["function"]["rest_auth"] == "oauth"
    assert "warning" not in oauth.json()
    off = client.put("/api/functions/settings_fn/rest", headers=auth, json={"enabled": False})
    assert off.json()["function"]["rest_enabled"] is False


def test_bad_input(client: Any, auth: dict[str, str]) -> None:
    broken = client.post("/api/functions", headers=auth, json={"source": BROKEN})
    assert broken.status_code == 400
    body = broken.json()
    assert body["code"] == "SYNTAX_ERROR" and body["status"] == "error"
    assert body["details"]["line"] == 3 and body["details"]["column"]
    _create(client, auth, V1.replace("greet", "dup"))
    dup = client.post("/api/functions", headers=auth, json={"source": V1.replace("greet", "DUP")})
    assert dup.status_code == 409 and dup.json()["code"] == "DUPLICATE_DATA"
    bad_save = client.post(
        "/api/functions/dup/versions", headers=auth, json={"source": BROKEN.replace("greet", "dup")}
    )
    assert bad_save.status_code == 400 and bad_save.json()["code"] == "SYNTAX_ERROR"
    assert client.get("/api/functions/dup", headers=auth).json()["function"]["latest_version"] == 1
    missing = client.post("/api/functions", headers=auth, json={})
    assert missing.json()["code"] == "MANDATORY_NOT_FOUND"
    assert missing.json()["details"] == {"api_name": "source"}
    wrong_type = client.post(
        "/api/functions", headers=auth, json={"source": V1, "rest_enabled": "yes"}
    )
    assert wrong_type.status_code == 400 and wrong_type.json()["details"] == {
        "api_name": "rest_enabled"
    }
    extra = client.post("/api/functions", headers=auth, json={"source": V1, "nope": 1})
    assert extra.json()["details"] == {"api_name": "nope"}
    assert client.post("/api/functions", headers=auth, content=b"[1]").status_code == 400
    assert client.post("/api/functions", headers=auth, content=b"{").status_code == 400
    for method, path in (
        ("GET", "/api/functions/nope"),
        ("POST", "/api/functions/nope/publish"),
        ("POST", "/api/functions/nope/versions"),
        ("DELETE", "/api/functions/nope"),
        ("GET", "/api/functions/dup/versions/9"),
    ):
        body = {"source": V1.replace("greet", "nope")} if path.endswith("versions") else None
        response = client.request(method, path, headers=auth, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "NOT_FOUND"
    assert client.get("/api/functions/dup/versions/x", headers=auth).status_code == 400
    nothing_earlier = client.post("/api/functions/dup/rollback", headers=auth)
    assert nothing_earlier.status_code == 409
    mismatch = client.post(
        "/api/functions/dup/versions", headers=auth, json={"source": V1}
    )  # header names greet, not dup
    assert mismatch.status_code == 400 and mismatch.json()["code"] == "INVALID_DATA"


def test_delete(client: Any, auth: dict[str, str]) -> None:
    _create(client, auth, V1.replace("greet", "gone"), publish=True)
    run = client.post("/api/functions/gone/execute", headers=auth, json={"arguments": {}})
    execution_id = run.json()["id"]
    deleted = client.delete("/api/functions/Gone", headers=auth)
    assert deleted.status_code == 200
    assert deleted.json() == {"api_name": "gone", "deleted": True}
    assert client.get("/api/functions/gone", headers=auth).status_code == 404
    # Its executions stay.
    kept = client.get(f"/api/executions/{execution_id}", headers=auth)
    assert kept.status_code == 200 and kept.json()["execution"]["function"] == "gone"


# ---- executions -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def divide_runs(client: Any, auth: dict[str, str]) -> list[dict[str, Any]]:
    _create(client, auth, DIVIDE, publish=True)
    runs = []
    for a, b in ((6, 3), (1, 0), (8, 2), (5, 0), (9, 3)):
        response = client.post(
            "/api/functions/divide/execute", headers=auth, json={"arguments": {"a": a, "b": b}}
        )
        assert response.status_code == 200, response.text
        runs.append(response.json())
    return runs


def test_execution_results(divide_runs: list[dict[str, Any]]) -> None:
    statuses = [r["status"] for r in divide_runs]
    assert statuses == ["success", "failure", "success", "failure", "success"]
    failed = divide_runs[1]
    assert failed["error"]["kind"] == "runtime" and failed["error"]["line"] == 4
    assert failed["info"] == ["dividing"]
    assert divide_runs[0]["output"] == 2


def test_list_and_filter(
    client: Any, auth: dict[str, str], divide_runs: list[dict[str, Any]]
) -> None:
    listed = client.get("/api/executions?function=DIVIDE", headers=auth)
    assert listed.status_code == 200, listed.text
    rows = listed.json()["executions"]
    assert [r["id"] for r in rows] == [r["id"] for r in reversed(divide_runs)]  # newest first
    assert rows[0]["trigger"] == {"type": "manual"} and rows[0]["trigger_type"] == "manual"
    assert rows[0]["arguments"] == {"a": 9, "b": 3}
    failures = client.get("/api/executions?function=divide&status=failure", headers=auth).json()[
        "executions"
    ]
    assert {r["id"] for r in failures} == {divide_runs[1]["id"], divide_runs[3]["id"]}
    assert all(r["error"]["message"] for r in failures)
    none_rest = client.get("/api/executions?function=divide&trigger=rest", headers=auth).json()
    assert none_rest["executions"] == [] and none_rest["info"]["more_records"] is False

    started = dt.datetime.fromisoformat(divide_runs[0]["started_at"].replace("Z", "+00:00"))
    later = (started + dt.timedelta(days=1)).isoformat()
    earlier = (started - dt.timedelta(days=1)).isoformat()
    in_range = client.get(
        "/api/executions",
        params={"function": "divide", "since": earlier, "until": later},
        headers=auth,
    ).json()["executions"]
    assert len(in_range) == 5
    future = client.get(
        "/api/executions", params={"function": "divide", "since": later}, headers=auth
    ).json()["executions"]
    assert future == []
    ms = int(started.timestamp() * 1000) - 60_000
    by_ms = client.get(f"/api/executions?function=divide&since={ms}", headers=auth).json()
    assert len(by_ms["executions"]) == 5


def test_paging(client: Any, auth: dict[str, str], divide_runs: list[dict[str, Any]]) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"function": "divide", "limit": "2"}
        if cursor:
            params["before_id"] = cursor
        page = client.get("/api/executions", params=params, headers=auth).json()
        pages += 1
        seen.extend(r["id"] for r in page["executions"])
        assert page["info"]["count"] == len(page["executions"])
        if not page["info"]["more_records"]:
            assert page["info"]["next_before_id"] is None
            break
        cursor = page["info"]["next_before_id"]
    assert pages == 3
    assert seen == [r["id"] for r in reversed(divide_runs)]


def test_get_and_rerun(
    client: Any, auth: dict[str, str], divide_runs: list[dict[str, Any]]
) -> None:
    first = divide_runs[0]
    got = client.get(f"/api/executions/{first['id']}", headers=auth)
    assert got.status_code == 200
    record = got.json()["execution"]
    assert record["function"] == "divide" and record["version"] == 1
    assert record["output"] == 2 and record["statements"] >= 1
    assert record["started_at"].endswith("Z") and record["finished_at"]
    assert record["caller"] == "user" and record["run_as"]

    # Publish a new version: the rerun repeats the version that ran.
    saved = client.post(
        "/api/functions/divide/versions",
        headers=auth,
        json={"source": DIVIDE.replace("a / b", "a * b"), "publish": True},
    )
    assert saved.json()["function"]["live_version"] == 2
    again = client.post(f"/api/executions/{first['id']}/rerun", headers=auth)
    assert again.status_code == 201, again.text
    rerun = again.json()["execution"]
    assert rerun["rerun_of"] == first["id"] and rerun["id"] != first["id"]
    assert rerun["version"] == 1 and rerun["output"] == 2
    assert rerun["arguments"] == {"a": 6, "b": 3}
    assert rerun["trigger"]["type"] == "manual"


def test_execution_errors(client: Any, auth: dict[str, str]) -> None:
    unknown = client.get("/api/executions/1234567890123456789", headers=auth)
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"
    assert client.get("/api/executions/abc", headers=auth).status_code == 400
    assert client.post("/api/executions/1234567890123456789/rerun", headers=auth).status_code == (
        404
    )
    for query in (
        "status=done",
        "trigger=email",
        "since=yesterday",
        "until=2026-13-01",
        "limit=0",
        "limit=201",
        "before_id=x",
    ):
        response = client.get(f"/api/executions?{query}", headers=auth)
        assert response.status_code == 400, query
        assert response.json()["details"]["param_name"] == query.split("=")[0]


# ---- who may ---------------------------------------------------------------------------------


def _token(client: Any, crm: Any, name: str, **kwargs: Any) -> dict[str, str]:
    sc = crm.oauth.create_self_client(name, **kwargs)
    token = client.post("/oauth/v2/token", data={"grant_type": "refresh_token", **sc}).json()
    return {"Authorization": f"Zoho-oauthtoken {token['access_token']}"}


def test_permissions(client: Any, crm: Any, auth: dict[str, str]) -> None:
    paths = (
        ("GET", "/api/functions"),
        ("POST", "/api/functions"),
        ("GET", "/api/functions/x"),
        ("PUT", "/api/functions/x/rest"),
        ("POST", "/api/functions/x/execute"),
        ("GET", "/api/executions"),
        ("GET", "/api/executions/1"),
        ("POST", "/api/executions/1/rerun"),
    )
    for method, path in paths:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "AUTHENTICATION_FAILURE"
    user, _ = crm.users.create("fn-std@example.com", first_name="Std", last_name="User")
    standard = _token(client, crm, "fn-std", user_id=str(user.id))
    for method, path in paths:
        response = client.request(method, path, headers=standard)
        assert response.status_code == 403, (method, path)
        assert response.json() == {
            "code": "NO_PERMISSION",
            "details": {"permission": "manage_functions"},
            "message": "permission denied",
            "status": "error",
        }
    records_only = _token(client, crm, "fn-records", scopes=["ZohoCRM.modules.ALL"])
    for method, path in paths:
        response = client.request(method, path, headers=records_only)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "OAUTH_SCOPE_MISMATCH"
    bearer = {"Authorization": auth["Authorization"].replace("Zoho-oauthtoken", "Bearer")}
    assert client.get("/api/functions", headers=bearer).status_code == 200


@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")  # other routers' catch-alls
def test_openapi(client: Any) -> None:
    schema = client.app.openapi()
    paths = schema["paths"]
    for path, methods in {
        "/api/functions": {"get", "post"},
        "/api/functions/{api_name}": {"get", "patch", "delete"},
        "/api/functions/{api_name}/versions": {"get", "post"},
        "/api/functions/{api_name}/versions/{number}": {"get"},
        "/api/functions/{api_name}/publish": {"post"},
        "/api/functions/{api_name}/rollback": {"post"},
        "/api/functions/{api_name}/rest": {"put"},
        "/api/functions/{api_name}/execute": {"post"},
        "/api/executions": {"get"},
        "/api/executions/{execution_id}": {"get"},
        "/api/executions/{execution_id}/rerun": {"post"},
    }.items():
        assert methods <= set(paths[path]), path
    components = schema["components"]["schemas"]
    for name in ("FunctionOut", "SaveResultOut", "ExecutionOut", "ExecutionList", "ZohoErrorOut"):
        assert name in components, name
    create = paths["/api/functions"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["source"] and "publish" in body["properties"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SaveResultOut"
    }
    assert "403" in create["responses"]
    # The REST execute endpoint is Zoho's surface, not part of the admin schema.
    assert "/crm/{version}/functions/{api_name}/actions/execute" not in paths
