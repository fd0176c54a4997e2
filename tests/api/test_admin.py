"""The admin JSON API: custom modules and fields live at once, the API key, permissions."""

from __future__ import annotations

from typing import Any


def test_custom_field_is_live_at_once(client: Any, auth: dict[str, str]) -> None:
    response = client.post(
        "/api/modules/deals/fields",
        headers=auth,
        json={"api_name": "Total_Revenue", "type": "currency", "label": "Total Revenue"},
    )
    assert response.status_code == 201, response.text
    [field] = response.json()["fields"]
    assert field["api_name"] == "Total_Revenue" and field["data_type"] == "currency"
    assert field["custom_field"] is True
    fields = client.get("/crm/v8/settings/fields?module=Deals", headers=auth).json()["fields"]
    assert "Total_Revenue" in [f["api_name"] for f in fields]
    made = client.post(
        "/crm/v8/Deals",
        headers=auth,
        json={"data": [{"Deal_Name": "custom", "Stage": "Qualification", "Total_Revenue": 77.5}]},
    )
    assert made.status_code == 201, made.text
    found = client.get(
        "/crm/v8/Deals/search?criteria=(Total_Revenue:greater_than:77)", headers=auth
    ).json()["data"]
    assert [d["Total_Revenue"] for d in found] == [77.5]
    again = client.post(
        "/api/modules/Deals/fields",
        headers=auth,
        json={"api_name": "Total_Revenue", "type": "text"},
    )
    assert again.status_code == 400
    assert again.json()["status"] == "error"


def test_custom_module(client: Any, auth: dict[str, str]) -> None:
    response = client.post(
        "/api/modules",
        headers=auth,
        json={"api_name": "Projects", "singular_label": "Project", "plural_label": "Projects"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["modules"][0]["generated_type"] == "custom"
    made = client.post("/crm/v8/projects", headers=auth, json={"data": [{"Name": "Apollo"}]})
    assert made.status_code == 201, made.text
    missing = client.post("/crm/v8/Projects", headers=auth, json={"data": [{}]})
    assert missing.json()["data"][0]["details"]["api_name"] == "Name"


def test_admin_errors(client: Any, auth: dict[str, str]) -> None:
    assert client.post("/api/modules", json={"api_name": "X"}).status_code == 401
    body = client.post("/api/modules", headers=auth, content=b"[1]").json()
    assert body["code"] == "INVALID_DATA"
    body = client.post("/api/modules", headers=auth, json={}).json()
    assert body["code"] == "MANDATORY_NOT_FOUND" and body["details"] == {"api_name": "api_name"}
    body = client.post(
        "/api/modules/Deals/fields", headers=auth, json={"api_name": "Y", "type": "nope"}
    )
    assert body.status_code == 400
    bad_flag = client.post(
        "/api/modules/Deals/fields",
        headers=auth,
        json={"api_name": "Z", "type": "text", "mandatory": "yes"},
    ).json()
    assert bad_flag["details"] == {"api_name": "mandatory"}
    assert client.post("/api/modules/Nope/fields", headers=auth, json={}).json()["code"] == (
        "INVALID_MODULE"
    )
    assert client.get("/api/nothing", headers=auth).status_code == 404


def test_standard_user_cannot_change_the_schema(crm: Any, client: Any) -> None:
    user, _ = crm.users.create("sam@example.com", first_name="Sam", last_name="Standard")
    sc = crm.oauth.create_self_client("sam", user_id=str(user.id))
    token = client.post("/oauth/v2/token", data={"grant_type": "refresh_token", **sc}).json()[
        "access_token"
    ]
    auth = {"Authorization": f"Zoho-oauthtoken {token}"}
    response = client.post("/api/modules", headers=auth, json={"api_name": "Nope"})
    assert response.status_code == 403
    assert response.json()["code"] == "NO_PERMISSION"
    assert client.post("/api/apikey/rotate", headers=auth).status_code == 403


def test_rotate_api_key(crm: Any, client: Any, auth: dict[str, str]) -> None:
    first = client.post("/api/apikey/rotate", headers=auth)
    assert first.status_code == 200, first.text
    key = first.json()["zapikey"]
    assert key.startswith("1003.")
    assert crm.oauth.check_api_key(key) is not None
    second = client.post("/api/apikey/rotate", headers=auth).json()["zapikey"]
    assert crm.oauth.check_api_key(key) is None
    assert crm.oauth.check_api_key(second) is not None
    # The API key is not an OAuth token.
    denied = client.get("/crm/v8/Deals", headers={"Authorization": f"Zoho-oauthtoken {second}"})
    assert denied.status_code == 401
