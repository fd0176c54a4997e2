"""REST functions on a real ``floodway serve`` process, on SQLite and PostgreSQL.

The official SDK ``zohocrmsdk8_0`` (its ``FunctionsOperations``, OAuth through the refresh-token
grant) runs in its own process against the server (tests/api/sdk_clients/functions_client.py);
plain HTTP covers the API key from ``floodway apikey --json``, the key's rotation and the
execution log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .test_serve import HERE, Server, run_cli, start_server

DEAL_SUMMARY = """string standalone.deal_summary(String dealId)
{
    deal = zoho.crm.getRecordById("Deals", dealId.toLong());
    return {"deal": deal.get("Deal_Name"), "stage": deal.get("Stage")}.toString();
}"""

ECHO_REQUEST = """map standalone.echo_request(map crmAPIRequest, String note)
{
    return crmAPIRequest;
}"""

DIVIDE = """Int standalone.divide(Int a, Int b)
{
    return a / b;
}"""

NOT_EXPOSED = """string standalone.not_exposed()
{
    return "private";
}"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str], list[str], dict[str, str]]]:
    data = tmp_path_factory.mktemp("fn-served") / "data"
    db_args: list[str] = []
    if request.param == "postgresql":
        from .conftest import _reset_pg

        url = request.getfixturevalue("pg_database")
        _reset_pg(url)
        db_args = ["--database-url", url]
    created = run_cli("clients", "create", "fn-sdk", "--data", str(data), "--json", *db_args)
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    server = start_server("--data", str(data), *db_args)
    token = httpx.post(
        f"{server.url}/oauth/v2/token", data={"grant_type": "refresh_token", **client}
    ).json()["access_token"]
    auth = {"Authorization": f"Zoho-oauthtoken {token}"}
    for source, rest in (
        (DEAL_SUMMARY, True),
        (ECHO_REQUEST, True),
        (DIVIDE, True),
        (NOT_EXPOSED, False),
    ):
        made = httpx.post(
            f"{server.url}/api/functions",
            headers=auth,
            json={"source": source, "publish": True, "rest_enabled": rest},
        )
        assert made.status_code == 201, made.text
    yield server, client, ["--data", str(data), *db_args], auth
    code = server.stop()
    assert code == 0, "\n".join(server.lines)


def test_functions_operations(served: Any, tmp_path: Path) -> None:
    server, client, _, _ = served
    result = subprocess.run(
        [
            sys.executable,
            str(HERE / "sdk_clients" / "functions_client.py"),
            str(server.port),
            json.dumps(client),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.strip().splitlines()[-1].startswith("OK"), output


def test_api_key_on_the_server(served: Any) -> None:
    server, _, db_args, auth = served
    shown = run_cli("apikey", *db_args, "--json")
    assert shown.returncode == 0, shown.stderr
    key = json.loads(shown.stdout)["zapikey"]
    url = f"{server.url}/crm/v2/functions/divide/actions/execute"
    ok = httpx.get(url, params={"auth_type": "apikey", "zapikey": key, "a": "9", "b": "3"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["details"]["output"] == "3"
    form = httpx.post(url, data={"zapikey": key, "arguments": '{"a": 8, "b": 4}'})
    assert form.json()["details"]["output"] == "2"

    rotated = run_cli("apikey", *db_args, "--json", "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    new_key = json.loads(rotated.stdout)["zapikey"]
    old = httpx.get(url, params={"zapikey": key, "a": "1", "b": "1"})
    assert old.status_code == 401
    assert old.json()["details"] == {"auth_type": "apikey"}
    assert httpx.get(url, params={"zapikey": new_key, "a": "1", "b": "1"}).status_code == 200

    runs = httpx.get(
        f"{server.url}/api/executions",
        params={"function": "divide", "trigger": "rest", "limit": "50"},
        headers=auth,
    )
    assert runs.status_code == 200, runs.text
    triggers = [r["trigger"] for r in runs.json()["executions"]]
    assert {"type": "rest", "auth_type": "apikey"} in triggers
