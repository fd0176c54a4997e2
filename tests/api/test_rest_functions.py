"""REST functions over plain HTTP: ``/crm/{v}/functions/{api_name}/actions/execute``.

zoho-rest-compat.md §9 on SQLite and PostgreSQL: API key and OAuth, the four argument forms and
their precedence, ``crmAPIRequest``, the success envelope, ``crmAPIResponse`` passthrough, every
error of §9.6, and the execution recorded for each run.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from .conftest import make_client

ECHO = """string standalone.echo(String name, Int count, Bool flag, Map extra)
{
    return {"name": name, "count": count, "flag": flag, "extra": extra}.toString();
}"""

HOOK = """map standalone.hook(map crmAPIRequest, String note)
{
    out = Map();
    out.put("request", crmAPIRequest);
    out.put("note", note);
    return out;
}"""

RESPOND = """map standalone.respond(map crmAPIRequest)
{
    body = crmAPIRequest.get("body");
    if (body.get("email") == null)
    {
        return {"crmAPIResponse": {"status_code": 400, "body": {"error": "email is required"}}};
    }
    return {"crmAPIResponse": {"status_code": 201, "body": {"got": body.get("email")},
        "headers": {"X-Floodway-Test": "yes", "Set-Cookie": "a=b", "Content-Length": "1"}}};
}"""

RESPOND_TEXT = """string standalone.respond_text()
{
    return {"crmAPIResponse": {"status_code": 202, "body": "accepted", "Content-Type": "text/csv"}};
}"""

BAD_STATUS = """map standalone.bad_status()
{
    return {"crmAPIResponse": {"status_code": 700}};
}"""

FAILS = """string standalone.fails(Int n)
{
    info "about to fail";
    x = 10 / n;
    return "never";
}"""

LOOPS = """string standalone.loops()
{
    l = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    for each a in l
    {
        for each b in l
        {
            for each c in l
            {
                for each d in l
                {
                    for each e in l
                    {
                        for each f in l
                        {
                            x = 1;
                        }
                    }
                }
            }
        }
    }
    return "done";
}"""

TYPED = """Int standalone.plus_one(Int n)
{
    return n + 1;
}"""

PRIVATE = """string standalone.private_fn()
{
    return "secret";
}"""

OAUTH_ONLY = """string standalone.oauth_only()
{
    return "only oauth";
}"""

BASE = "/crm/v8/functions"


@pytest.fixture(scope="module")
def functions(client: Any, auth: dict[str, str]) -> dict[str, str]:
    """Publishes the module's functions; REST on for all but ``private_fn``."""
    for source in (ECHO, HOOK, RESPOND, RESPOND_TEXT, BAD_STATUS, FAILS, LOOPS, TYPED, OAUTH_ONLY):
        made = client.post(
            "/api/functions",
            headers=auth,
            json={"source": source, "publish": True, "rest_enabled": True},
        )
        assert made.status_code == 201, made.text
    made = client.post("/api/functions", headers=auth, json={"source": PRIVATE, "publish": True})
    assert made.status_code == 201, made.text
    rest = client.put(
        "/api/functions/oauth_only/rest",
        headers=auth,
        json={"enabled": True, "rest_auth": "oauth"},
    )
    assert rest.status_code == 200, rest.text
    return {}


@pytest.fixture
def zapikey(crm: Any) -> str:
    """A fresh org API key for each test (one test rotates it)."""
    return crm.oauth.rotate_api_key()


def _url(function: str, **params: str) -> str:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return f"{BASE}/{function}/actions/execute" + (f"?{query}" if query else "")


def _output(response: Any) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == "success" and body["message"] == "function executed successfully"
    assert "status" not in body
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    return body["details"]


# ---- argument forms ---------------------------------------------------------------------------


def test_arguments_json_query(client: Any, functions: Any, zapikey: str, crm: Any) -> None:
    args = json.dumps({"name": "Ana", "count": "41", "flag": "true", "extra": {"k": [1, 2]}})
    details = _output(client.get(_url("echo", auth_type="apikey", zapikey=zapikey, arguments=args)))
    assert details["output_type"] == "string"
    assert details["userMessage"] == []
    assert details["id"] == crm.primary_admin_id  # apikey calls run as the primary admin
    assert json.loads(details["output"]) == {
        "name": "Ana",
        "count": 41,
        "flag": True,
        "extra": {"k": [1, 2]},
    }


def test_arguments_python_literal(client: Any, functions: Any, zapikey: str) -> None:
    """The v8 SDK sends ``arguments`` as a Python dict repr."""
    literal = "{'name': 'O\\'Brien', 'count': 7, 'flag': True, 'extra': {'n': None, 't': [1, 2.5]}}"
    details = _output(client.get(_url("echo", zapikey=zapikey, arguments=literal)))
    assert json.loads(details["output"]) == {
        "name": "O'Brien",
        "count": 7,
        "flag": True,
        "extra": {"n": None, "t": [1, 2.5]},
    }


def test_separate_query_parameters(client: Any, functions: Any, zapikey: str) -> None:
    details = _output(
        client.get(
            _url("ECHO", auth_type="APIKEY", zapikey=zapikey, NAME="q", count="3", flag="FALSE")
        )
    )
    assert json.loads(details["output"]) == {
        "name": "q",
        "count": 3,
        "flag": False,
        "extra": None,
    }


def test_form_body(client: Any, functions: Any, zapikey: str) -> None:
    response = client.post(
        _url("echo"),
        data={
            "auth_type": "apikey",
            "zapikey": zapikey,
            "arguments": json.dumps({"name": "from map"}),
            "name": "from field",
            "count": "5",
        },
    )
    assert json.loads(_output(response)["output"]) == {
        "name": "from map",
        "count": 5,
        "flag": None,
        "extra": None,
    }
    multipart = client.post(
        _url("echo", zapikey=zapikey),
        data={"name": "multi", "count": "6"},
        files={"ignored": ("a.txt", b"file part", "text/plain")},
    )
    assert json.loads(_output(multipart)["output"])["name"] == "multi"


def test_raw_json_body(client: Any, functions: Any, zapikey: str) -> None:
    # No Content-Type, as the v8 SDK sends it.
    response = client.post(
        _url("echo", zapikey=zapikey),
        content=json.dumps({"name": "raw", "count": 9, "extra": {"a": 1}}).encode(),
    )
    assert json.loads(_output(response)["output"]) == {
        "name": "raw",
        "count": 9,
        "flag": None,
        "extra": {"a": 1},
    }
    wrapped = client.post(
        _url("echo", zapikey=zapikey),
        content=json.dumps({"arguments": json.dumps({"name": "wrapped"})}),
        headers={"Content-Type": "text/plain"},
    )
    assert json.loads(_output(wrapped)["output"])["name"] == "wrapped"


def test_precedence(client: Any, functions: Any, zapikey: str) -> None:
    """``arguments`` map > separate parameters > body keys; exact names > other case."""
    response = client.post(
        _url("echo", zapikey=zapikey, arguments='{"name": "map"}', name="param", count="2"),
        content=json.dumps({"name": "body", "count": 1, "flag": True, "Extra": {"x": 1}}),
    )
    assert json.loads(_output(response)["output"]) == {
        "name": "map",
        "count": 2,
        "flag": True,
        "extra": {"x": 1},
    }


def test_crm_api_request(client: Any, functions: Any, zapikey: str, crm: Any) -> None:
    response = client.post(
        _url("hook", zapikey=zapikey, module="Deals", note="n1"),
        content=b'{"order": {"id": 7}}',
        headers={
            "Content-Type": "application/json",
            "X-Custom": "v",
            "Cookie": "session=1",
            "Authorization": "Zoho-oauthtoken ignored",
        },
    )
    details = _output(response)
    assert details["output_type"] == "map"
    out = json.loads(details["output"])
    assert out["note"] == "n1"
    request = out["request"]
    assert request["http_method"] == "POST"
    assert request["params"] == {"module": "Deals", "note": "n1"}  # zapikey removed
    assert request["body"] == {"order": {"id": 7}}
    assert request["auth_type"] == "apikey"
    assert request["headers"]["x-custom"] == "v"
    assert "authorization" not in request["headers"] and "cookie" not in request["headers"]
    admin = crm.users.get(crm.primary_admin_id)
    assert request["user"] == {"id": admin.id, "name": admin.full_name, "email": admin.email}
    # A caller-supplied crmAPIRequest is overridden; a text body stays text.
    text = client.post(
        _url("hook", zapikey=zapikey, crmAPIRequest="forged"),
        content=b"plain words",
    )
    request = json.loads(_output(text)["output"])["request"]
    assert request["body"] == "plain words"
    assert request["http_method"] == "POST"
    got = client.get(_url("hook", zapikey=zapikey))
    assert json.loads(_output(got)["output"])["request"]["body"] == ""


# ---- responses --------------------------------------------------------------------------------


def test_crm_api_response(client: Any, functions: Any, zapikey: str) -> None:
    created = client.post(_url("respond", zapikey=zapikey), json={"email": "a@example.com"})
    assert created.status_code == 201, created.text
    assert created.json() == {"got": "a@example.com"}
    assert created.headers["content-type"] == "application/json;charset=UTF-8"
    assert created.headers["x-floodway-test"] == "yes"
    assert "set-cookie" not in created.headers
    assert created.headers["x-content-type-options"] == "nosniff"
    assert created.headers["content-security-policy"] == "sandbox; default-src 'none'"
    refused = client.post(_url("respond", zapikey=zapikey), json={"name": "x"})
    assert refused.status_code == 400
    assert refused.json() == {"error": "email is required"}


def test_crm_api_response_from_text(client: Any, functions: Any, zapikey: str) -> None:
    response = client.get(_url("respond_text", zapikey=zapikey))
    assert response.status_code == 202
    assert response.text == "accepted"
    assert response.headers["content-type"].startswith("text/csv")


def test_bare_script_with_collections(
    client: Any, auth: dict[str, str], functions: Any, zapikey: str
) -> None:
    """A script without a header: implicit arguments by name, ``{}`` collections as bodies."""
    source = (
        'r = Collection();\nr.put("status_code", 202);\nb = Collection();\n'
        'b.add(who);\nr.put("body", b);\nreturn {"crmAPIResponse": r};'
    )
    made = client.post(
        "/api/functions",
        headers=auth,
        json={"source": source, "api_name": "bare_rest", "publish": True, "rest_enabled": True},
    )
    assert made.status_code == 201, made.text
    response = client.get(_url("bare_rest", zapikey=zapikey, who="me"))
    assert response.status_code == 202, response.text
    assert response.json() == ["me"]


def test_bad_crm_api_response_status(client: Any, functions: Any, zapikey: str) -> None:
    response = client.get(_url("bad_status", zapikey=zapikey))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INTERNAL_ERROR" and body["status"] == "error"
    assert body["details"]["execution_id"]


def test_typed_output(client: Any, functions: Any, zapikey: str) -> None:
    details = _output(client.get(_url("plus_one", zapikey=zapikey, n="41")))
    assert details["output"] == "42"
    assert details["output_type"] == "int"


# ---- failures ---------------------------------------------------------------------------------


def test_runtime_error(client: Any, functions: Any, zapikey: str) -> None:
    response = client.get(_url("fails", zapikey=zapikey, n="0"))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INTERNAL_ERROR"
    assert body["details"]["kind"] == "runtime"
    assert body["details"]["line"] == 4
    execution = client_get_execution(client, body["details"]["execution_id"])
    assert execution["status"] == "failure"
    assert execution["info"] == ["about to fail"]
    assert execution["trigger"] == {"type": "rest", "auth_type": "apikey"}


def test_conversion_error(client: Any, functions: Any, zapikey: str) -> None:
    response = client.get(_url("plus_one", zapikey=zapikey, n="abc"))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INVALID_DATA"
    assert body["details"]["api_name"] == "n"
    assert body["details"]["execution_id"]
    assert "Cannot convert 'abc'" in body["message"]


def test_limit(client: Any, functions: Any, zapikey: str) -> None:
    response = client.get(_url("loops", zapikey=zapikey))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "LIMIT_REACHED"
    assert body["details"]["kind"] == "limit"
    assert body["details"]["execution_id"]


def test_unparseable_arguments(client: Any, functions: Any, zapikey: str) -> None:
    for bad in ("{not json", "__import__('os')", "[1, 2]", "{'a': f(1)}"):
        response = client.get(_url("echo", zapikey=zapikey, arguments=bad))
        assert response.status_code == 400, bad
        assert response.json() == {
            "code": "INVALID_DATA",
            "details": {"param_name": "arguments"},
            "message": "invalid data",
            "status": "error",
        }


def test_not_found_and_not_rest(client: Any, functions: Any, zapikey: str) -> None:
    for name in ("nope", "private_fn"):
        response = client.get(_url(name, zapikey=zapikey))
        assert response.status_code == 404
        assert response.json()["code"] == "INVALID_URL_PATTERN"
    assert client.get(f"/crm/v9/functions/echo/actions/execute?zapikey={zapikey}").status_code == (
        404
    )


def test_methods(client: Any, functions: Any, zapikey: str) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = client.request(method, _url("echo", zapikey=zapikey))
        assert response.status_code == 400, method
        assert response.json()["code"] == "INVALID_REQUEST_METHOD"


def test_api_key_errors(client: Any, functions: Any, zapikey: str, crm: Any) -> None:
    expected = {
        "code": "AUTHENTICATION_FAILURE",
        "details": {"auth_type": "apikey"},
        "message": "Authentication failed",
        "status": "error",
    }
    for url in (
        _url("echo", auth_type="apikey"),
        _url("echo", auth_type="apikey", zapikey="1003.nope"),
        _url("nope", zapikey="1003.nope"),  # nothing learnt about functions before auth
    ):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.json() == expected
    bad_type = client.get(_url("echo", auth_type="magic", zapikey=zapikey))
    assert bad_type.status_code == 400
    assert bad_type.json()["details"] == {"param_name": "auth_type"}
    oauth_only = client.get(_url("oauth_only", zapikey=zapikey))
    assert oauth_only.status_code == 401
    assert oauth_only.json()["code"] == "AUTHENTICATION_FAILURE"


def test_rotated_api_key(client: Any, functions: Any, crm: Any) -> None:
    old = crm.oauth.rotate_api_key()
    _output(client.get(_url("plus_one", zapikey=old, n="1")))
    new = crm.oauth.rotate_api_key()
    assert client.get(_url("plus_one", zapikey=old, n="1")).status_code == 401
    _output(client.get(_url("plus_one", zapikey=new, n="1")))


def test_oauth(client: Any, functions: Any, auth: dict[str, str], crm: Any) -> None:
    details = _output(client.get(_url("oauth_only", auth_type="oauth"), headers=auth))
    assert details["output"] == "only oauth"
    bearer = {"Authorization": auth["Authorization"].replace("Zoho-oauthtoken", "Bearer")}
    _output(client.post(_url("plus_one"), headers=bearer, json={"n": 1}))
    missing = client.get(_url("echo", auth_type="oauth"))
    assert missing.status_code == 401
    assert missing.json()["code"] == "AUTHENTICATION_FAILURE"
    bad = client.get(
        _url("echo", auth_type="oauth"), headers={"Authorization": "Zoho-oauthtoken 1000.x.y"}
    )
    assert bad.status_code == 401 and bad.json()["code"] == "INVALID_TOKEN"
    # A token with the GET scope only.
    sc = crm.oauth.create_self_client("fn-read", scopes=["ZohoCRM.functions.execute.READ"])
    token = client.post("/oauth/v2/token", data={"grant_type": "refresh_token", **sc}).json()
    read_only = {"Authorization": f"Zoho-oauthtoken {token['access_token']}"}
    _output(client.get(_url("plus_one", auth_type="oauth", n="2"), headers=read_only))
    denied = client.post(_url("plus_one", auth_type="oauth"), headers=read_only, json={"n": 2})
    assert denied.status_code == 401
    assert denied.json()["code"] == "OAUTH_SCOPE_MISMATCH"


def test_body_limit(client: Any, functions: Any, zapikey: str) -> None:
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post(_url("echo", zapikey=zapikey), content=big)
    assert response.status_code == 413
    assert response.json()["code"] == "LIMIT_EXCEEDED"
    assert response.json()["details"] == {"limit": "1MB"}


def test_executions_recorded(client: Any, functions: Any, zapikey: str, auth: Any) -> None:
    _output(client.get(_url("plus_one", zapikey=zapikey, n="100")))
    listed = client.get("/api/executions?function=plus_one&trigger=rest&limit=1", headers=auth)
    assert listed.status_code == 200, listed.text
    [row] = listed.json()["executions"]
    assert row["arguments"] == {"n": "100"} or row["arguments"] == {"n": 100}
    assert row["output"] == 101
    assert row["status"] == "success"
    assert row["version"] == 1


def test_rate_limit_per_key(crm: Any, functions: Any, zapikey: str) -> None:
    limited = make_client(crm, rate_limit_per_s=0.001, rate_limit_burst=2)
    codes = [limited.get(_url("plus_one", zapikey=zapikey, n="1")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_concurrency_setting(crm: Any, functions: Any, zapikey: str) -> None:
    from types import SimpleNamespace

    from fastapi.testclient import TestClient

    from floodway.api.app import create_app
    from floodway.api.config import ApiConfig

    app = create_app(
        crm, SimpleNamespace(rest_function_concurrency=1), config=ApiConfig(rate_limit_per_s=0)
    )
    with TestClient(app) as one_slot:
        _output(one_slot.get(_url("plus_one", zapikey=zapikey, n="1")))
    assert app.state.rest_function_limiter.total_tokens == 1
    default = make_client(crm)
    _output(default.get(_url("plus_one", zapikey=zapikey, n="1")))
    assert default.app.state.rest_function_limiter.total_tokens == 8


def client_get_execution(client: Any, execution_id: str) -> dict[str, Any]:
    return client.app.state.functions.executions.get(execution_id)
