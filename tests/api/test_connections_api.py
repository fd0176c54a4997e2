"""Connections through the admin API: secrets go in encrypted and never come out, and a
function's invokeurl uses the stored credentials (API key, OAuth2 refresh token)."""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from floodway.api.app import create_app
from floodway.api.config import ApiConfig
from floodway.functions.secrets import Keyring
from floodway.functions.service import Functions

SECRET = "key-" + secrets.token_hex(12)


@pytest.fixture(scope="module")
def fx_client(crm: Any) -> TestClient:
    keyring = Keyring.from_text(base64.b64encode(secrets.token_bytes(32)).decode(), "test")
    fx = Functions(crm, SimpleNamespace(invokeurl_allow=["127.0.0.1"]), keyring=keyring)
    app = create_app(crm, config=ApiConfig(rate_limit_per_s=0), functions=fx)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def echo_server() -> Iterator[tuple[int, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = json.dumps({"ok": True}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def test_api_key_connection_is_used_and_its_secret_never_returned(
    fx_client: TestClient, auth: dict[str, str], echo_server: Any
) -> None:
    port, seen = echo_server
    put = fx_client.put(
        "/api/connections/billing",
        headers=auth,
        json={
            "type": "api_key",
            "api_key": SECRET,
            "api_key_header": "X-Api-Key",
            "hosts": [f"127.0.0.1:{port}"],
        },
    )
    assert put.status_code == 200, put.text
    assert SECRET not in put.text and put.json()["connection"]["secret_set"] is True
    listed = fx_client.get("/api/connections", headers=auth)
    assert listed.status_code == 200 and SECRET not in listed.text
    assert [c["name"] for c in listed.json()["connections"]] == ["billing"]
    source = f"""string standalone.call_billing()
{{
    r = invokeurl [ url: "http://127.0.0.1:{port}/invoices" type: GET connection: "billing" ];
    return r.get("ok").toString();
}}"""
    made = fx_client.post("/api/functions", headers=auth, json={"source": source, "publish": True})
    assert made.status_code == 201, made.text
    run = fx_client.post("/api/functions/call_billing/execute", headers=auth, json={}).json()
    assert run["status"] == "success" and run["output"] == "true", run
    assert seen[-1]["x-api-key"] == SECRET
    execution = fx_client.get(f"/api/executions/{run['id']}", headers=auth)
    assert SECRET not in execution.text


def test_authorization_code_connection_takes_a_refresh_token(
    fx_client: TestClient, auth: dict[str, str]
) -> None:
    put = fx_client.put(
        "/api/connections/pm_service",
        headers=auth,
        json={
            "type": "oauth2_authorization_code",
            "token_url": "https://pm.example.com/oauth/token",
            "client_id": "floodway",
            "client_secret": "s3cr3t-client",
            "refresh_token": "1000.refresh-" + SECRET,
        },
    )
    assert put.status_code == 200, put.text
    got = fx_client.get("/api/connections/pm_service", headers=auth).json()["connection"]
    assert got["type"] == "oauth2_authorization_code" and got["secret_set"] is True
    assert "s3cr3t-client" not in json.dumps(got) and SECRET not in json.dumps(got)


def test_bad_connections_are_rejected_and_deleted_ones_are_gone(
    fx_client: TestClient, auth: dict[str, str]
) -> None:
    missing_token = fx_client.put(
        "/api/connections/broken",
        headers=auth,
        json={"type": "oauth2_authorization_code", "token_url": "https://x.example/t"},
    )
    assert missing_token.status_code == 400 and missing_token.json()["code"] == "INVALID_DATA"
    unknown = fx_client.put(
        "/api/connections/broken", headers=auth, json={"type": "api_key", "colour": "red"}
    )
    assert unknown.status_code == 400
    assert fx_client.get("/api/connections").status_code == 401
    assert fx_client.delete("/api/connections/pm_service", headers=auth).status_code == 204
    gone = fx_client.get("/api/connections/pm_service", headers=auth)
    assert gone.status_code == 404
    assert fx_client.delete("/api/connections/pm_service", headers=auth).status_code == 404
