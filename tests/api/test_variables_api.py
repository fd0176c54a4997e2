"""Org variables through the admin API, read by functions with zoho.crm.getOrgVariable."""

from __future__ import annotations

from typing import Any

READER = """string standalone.read_tier_limit()
{
    return ifnull(zoho.crm.getOrgVariable("Tier_A_Limit"), "unset");
}"""


def test_set_list_read_and_delete_an_org_variable(client: Any, auth: dict[str, str]) -> None:
    made = client.post("/api/functions", headers=auth, json={"source": READER, "publish": True})
    assert made.status_code == 201, made.text
    put = client.put(
        "/api/variables/Tier_A_Limit",
        headers=auth,
        json={"value": "100000", "description": "Revenue for tier A"},
    )
    assert put.status_code == 200, put.text
    listed = client.get("/api/variables", headers=auth).json()["variables"]
    assert {
        "name": "Tier_A_Limit",
        "value": "100000",
        "description": "Revenue for tier A",
    } in listed
    run = client.post("/api/functions/read_tier_limit/execute", headers=auth, json={}).json()
    assert run["status"] == "success" and run["output"] == "100000"
    assert client.delete("/api/variables/tier_a_limit", headers=auth).status_code == 204
    run = client.post("/api/functions/read_tier_limit/execute", headers=auth, json={}).json()
    assert run["output"] == "unset"
    missing = client.delete("/api/variables/Tier_A_Limit", headers=auth)
    assert missing.status_code == 404 and missing.json()["code"] == "INVALID_DATA"


def test_variables_need_a_token_and_reject_unknown_keys(client: Any, auth: dict[str, str]) -> None:
    assert client.get("/api/variables").status_code == 401
    bad = client.put("/api/variables/x", headers=auth, json={"value": "1", "colour": "red"})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_DATA"
