"""POST /oauth/v2/token, revoke, and the Authorization header rules (compat §2, §3.1)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from .conftest import make_client

TOKEN_RE = re.compile(r"^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$")


def _params(sc: dict[str, str]) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "refresh_token": sc["refresh_token"],
        "client_id": sc["client_id"],
        "client_secret": sc["client_secret"],
    }


def _ok(response: Any, all_scopes: bool = True) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert "error" not in body, body
    assert TOKEN_RE.match(body["access_token"])
    assert body["expires_in"] == 3600
    assert "expires_in_sec" not in body
    assert body["token_type"] == "Bearer"
    if all_scopes:
        assert "ZohoCRM.modules.ALL" in body["scope"].split()
    return body


def test_self_client_format(self_client: dict[str, str]) -> None:
    assert re.match(r"^1000\.[0-9A-Z]{30}$", self_client["client_id"])
    assert re.match(r"^[0-9a-f]{42}$", self_client["client_secret"])
    assert TOKEN_RE.match(self_client["refresh_token"])


def test_refresh_from_form_body(client: Any, self_client: dict[str, str]) -> None:
    body = _ok(client.post("/oauth/v2/token", data=_params(self_client)))
    assert body["api_domain"] == "http://testserver"
    assert "refresh_token" not in body


def test_refresh_from_query_string_with_json_label(
    client: Any, self_client: dict[str, str]
) -> None:
    response = client.post(
        "/oauth/v2/token",
        params=_params(self_client),
        headers={"Content-Type": "application/json"},
    )
    _ok(response)


def test_refresh_from_multipart(client: Any, self_client: dict[str, str]) -> None:
    files = {k: (None, v) for k, v in _params(self_client).items()}
    _ok(client.post("/oauth/v2/token", files=files))


def test_refresh_from_json_body_without_content_type(
    client: Any, self_client: dict[str, str]
) -> None:
    _ok(client.post("/oauth/v2/token", content=json.dumps(_params(self_client)).encode()))


def test_body_value_wins_over_query(client: Any, self_client: dict[str, str]) -> None:
    params = _params(self_client)
    response = client.post(
        "/oauth/v2/token",
        params={**params, "client_secret": "wrong"},
        data={"client_secret": params["client_secret"]},
    )
    _ok(response)


def test_public_url_is_api_domain(crm: Any, self_client: dict[str, str]) -> None:
    other = make_client(crm, public_url="https://crm.example.test")
    body = _ok(other.post("/oauth/v2/token", data=_params(self_client)))
    assert body["api_domain"] == "https://crm.example.test"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_id": "1000.NOSUCHCLIENT0000000000000000000"}, "invalid_client"),
        ({"client_secret": "0" * 42}, "invalid_client"),
        ({"refresh_token": "1000." + "a" * 32 + "." + "b" * 32}, "invalid_code"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": None}, "unsupported_grant_type"),
        ({"refresh_token": None}, "invalid_request"),
    ],
)
def test_token_errors_are_http_200(
    client: Any, self_client: dict[str, str], change: dict[str, Any], error: str
) -> None:
    params = {**_params(self_client), **change}
    params = {k: v for k, v in params.items() if v is not None}
    response = client.post("/oauth/v2/token", data=params)
    assert response.status_code == 200
    assert response.json() == {"error": error}


def test_other_methods_on_token_endpoint(client: Any) -> None:
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = client.request(method, "/oauth/v2/token")
        assert response.status_code == 405
        assert response.json() == {"error": "invalid_request"}


def test_authorization_code_grant(crm: Any, client: Any, self_client: dict[str, str]) -> None:
    code = crm.oauth.create_grant_code(self_client["client_id"], minutes=3)
    params = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": self_client["client_id"],
        "client_secret": self_client["client_secret"],
        "redirect_uri": "https://ignored.example.test/cb",
    }
    body = _ok(client.post("/oauth/v2/token", data=params))
    assert TOKEN_RE.match(body["refresh_token"])
    again = client.post("/oauth/v2/token", data=params)
    assert again.json() == {"error": "invalid_code"}  # single use
    # The new refresh token works.
    refreshed = {**_params(self_client), "refresh_token": body["refresh_token"]}
    _ok(client.post("/oauth/v2/token", data=refreshed))


def test_both_authorization_schemes(client: Any, token: str) -> None:
    for scheme in ("Zoho-oauthtoken", "Bearer", "bearer", "ZOHO-OAUTHTOKEN"):
        response = client.get("/crm/v8/org", headers={"Authorization": f"{scheme} {token}"})
        assert response.status_code == 200, (scheme, response.text)


def test_missing_header(client: Any) -> None:
    response = client.get("/crm/v8/Deals")
    assert response.status_code == 401
    assert response.json() == {
        "code": "AUTHENTICATION_FAILURE",
        "details": {},
        "message": "Authentication failed",
        "status": "error",
    }


@pytest.mark.parametrize(
    "header",
    [
        "Zoho-oauthtoken 1000.deadbeef",
        "Bearer " + "1000." + "0" * 32 + "." + "0" * 32,
        "Basic dXNlcjpwYXNz",
        "Zoho-oauthtoken",
    ],
)
def test_bad_tokens(client: Any, header: str) -> None:
    response = client.get("/crm/v8/Deals", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json() == {
        "code": "INVALID_TOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }


def test_scope_mismatch(crm: Any, client: Any, self_client: dict[str, str]) -> None:
    code = crm.oauth.create_grant_code(
        self_client["client_id"], scopes=["ZohoCRM.modules.Deals.READ"]
    )
    body = _ok(
        client.post(
            "/oauth/v2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self_client["client_id"],
                "client_secret": self_client["client_secret"],
            },
        ),
        all_scopes=False,
    )
    assert body["scope"] == "ZohoCRM.modules.Deals.READ"
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/crm/v8/Deals", headers=auth).status_code in (200, 204)
    for method, path in [
        ("GET", "/crm/v8/Accounts"),
        ("POST", "/crm/v8/Deals"),
        ("GET", "/crm/v8/settings/modules"),
        ("GET", "/crm/v8/users?type=CurrentUser"),
    ]:
        response = client.request(method, path, headers=auth, content=b'{"data":[{}]}')
        assert response.status_code == 401, (path, response.text)
        assert response.json()["code"] == "OAUTH_SCOPE_MISMATCH"
        assert response.json()["message"] == "invalid oauth scope to access this URL"


def test_revoke(client: Any, self_client: dict[str, str], crm: Any) -> None:
    extra = crm.oauth.create_self_client("to-revoke")
    body = _ok(client.post("/oauth/v2/token", data=_params(extra)))
    auth = {"Authorization": f"Zoho-oauthtoken {body['access_token']}"}
    assert client.get("/crm/v8/org", headers=auth).status_code == 200
    response = client.post("/oauth/v2/token/revoke", params={"token": extra["refresh_token"]})
    assert response.status_code == 200
    assert response.json() == {"status": "success"}
    assert client.get("/crm/v8/org", headers=auth).json()["code"] == "INVALID_TOKEN"
    again = client.post("/oauth/v2/token", data=_params(extra))
    assert again.json() == {"error": "invalid_code"}
    assert client.post("/oauth/v2/token/revoke").json() == {"error": "invalid_request"}


def test_expired_token(crm: Any, client: Any, self_client: dict[str, str]) -> None:
    import datetime as dt

    body = _ok(client.post("/oauth/v2/token", data=_params(self_client)))
    auth = {"Authorization": f"Zoho-oauthtoken {body['access_token']}"}
    real = crm.clock
    start = real()
    try:
        crm.clock = lambda: start + dt.timedelta(seconds=3590)
        assert client.get("/crm/v8/org", headers=auth).status_code == 200  # honoured until expiry
        crm.clock = lambda: start + dt.timedelta(seconds=3601)
        response = client.get("/crm/v8/org", headers=auth)
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_TOKEN"
    finally:
        crm.clock = real
