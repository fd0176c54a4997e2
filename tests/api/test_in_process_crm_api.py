"""invokeurl to Zoho CRM API URLs is served by floodway's own REST API, in process, as the
running user (deluge-language.md §12.8, D-34): no socket opens, records are really written."""

from __future__ import annotations

import socket
from typing import Any

import pytest

SCRIPT = """string standalone.crm_through_the_api(String name)
{
    created = invokeurl
    [
        url: "https://www.zohoapis.com/crm/v8/Accounts"
        type: POST
        parameters: {"data": {{"Account_Name": name}}}.toString()
        connection: "crm_oauth_connection"
    ];
    id = created.get("data").get(0).get("details").get("id");
    fetched = invokeurl
    [
        url: "https://www.zohoapis.com/crm/v2/Accounts/" + id
        type: GET
    ];
    detailed = invokeurl
    [
        url: "https://www.zohoapis.com/crm/v8/Accounts/999"
        type: GET
        detailed: true
    ];
    return fetched.get("data").get(0).get("Account_Name") + "|" + detailed.get("responseCode");
}"""


def test_invokeurl_to_the_crm_api_is_served_in_process(
    client: Any, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = client.post("/api/functions", headers=auth, json={"source": SCRIPT, "publish": True})
    assert made.status_code == 201, made.text

    def no_sockets(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the in-process CRM API must not open a socket")

    monkeypatch.setattr(socket.socket, "connect", no_sockets)
    run = client.post(
        "/api/functions/crm_through_the_api/execute",
        headers=auth,
        json={"arguments": {"name": "Acme In-Process"}},
    )
    assert run.status_code == 200, run.text
    result = run.json()
    assert result["status"] == "success", result
    assert result["output"] == "Acme In-Process|204"
    listed = client.get(
        "/crm/v8/Accounts/search",
        headers=auth,
        params={"criteria": "(Account_Name:equals:Acme In-Process)"},
    )
    assert (
        listed.status_code == 200 and listed.json()["data"][0]["Account_Name"] == "Acme In-Process"
    )
