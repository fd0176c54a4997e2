"""settings/modules, settings/fields, settings/related_lists, users, org (compat §8)."""

from __future__ import annotations

from typing import Any

import pytest

FIELD_KEYS = {
    "api_name",
    "field_label",
    "display_label",
    "data_type",
    "json_type",
    "id",
    "system_mandatory",
    "custom_field",
    "read_only",
    "visible",
    "length",
    "currency",
    "lookup",
    "pick_list_values",
}


def _json(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    return response.json()


def test_modules(client: Any, auth: dict[str, str]) -> None:
    modules = _json(client.get("/crm/v8/settings/modules", headers=auth))["modules"]
    names = [m["api_name"] for m in modules]
    for name in ("Leads", "Contacts", "Accounts", "Deals", "Tasks", "Products", "Notes"):
        assert name in names
    deals = next(m for m in modules if m["api_name"] == "Deals")
    assert deals["generated_type"] == "default"
    assert deals["api_supported"] is True
    assert deals["id"].isdigit() and len(deals["id"]) >= 18


def test_single_module_is_case_insensitive(client: Any, auth: dict[str, str]) -> None:
    body = _json(client.get("/crm/v2/settings/modules/deals", headers=auth))
    assert [m["api_name"] for m in body["modules"]] == ["Deals"]
    bad = _json(client.get("/crm/v8/settings/modules/Nope", headers=auth), 400)
    assert bad["code"] == "INVALID_MODULE"
    assert bad["message"] == "the module name given seems to be invalid"


def test_fields_v8_shapes(client: Any, auth: dict[str, str]) -> None:
    fields = _json(client.get("/crm/v8/settings/fields?module=Deals", headers=auth))["fields"]
    by_name = {f["api_name"]: f for f in fields}
    for f in fields:
        assert set(f) >= FIELD_KEYS, f["api_name"]
    assert by_name["Deal_Name"]["system_mandatory"] is True
    assert by_name["Stage"]["data_type"] == "picklist"
    assert {"actual_value": "Closed Won"}.items() <= next(
        v for v in by_name["Stage"]["pick_list_values"] if v["actual_value"] == "Closed Won"
    ).items()
    lookup = by_name["Account_Name"]["lookup"]
    assert lookup["module"]["api_name"] == "Accounts" and lookup["module"]["id"].isdigit()
    assert by_name["Amount"]["data_type"] == "currency"
    assert by_name["Owner"]["data_type"] == "ownerlookup"
    assert by_name["Created_Time"]["read_only"] is True


def test_fields_v2_lookup_is_a_string(client: Any, auth: dict[str, str]) -> None:
    fields = _json(client.get("/crm/v2/settings/fields?module=deals", headers=auth))["fields"]
    lookup = next(f for f in fields if f["api_name"] == "Account_Name")["lookup"]
    assert lookup["module"] == "Accounts"


def test_fields_needs_module(client: Any, auth: dict[str, str]) -> None:
    body = _json(client.get("/crm/v8/settings/fields", headers=auth), 400)
    assert body == {
        "code": "REQUIRED_PARAM_MISSING",
        "details": {"param_name": "module"},
        "message": "One of the expected parameter is missing",
        "status": "error",
    }
    assert _json(client.get("/crm/v8/settings/fields?module=x", headers=auth), 400)["code"] == (
        "INVALID_MODULE"
    )


@pytest.mark.parametrize("version", ["v2", "v8"])
def test_related_lists(client: Any, auth: dict[str, str], version: str) -> None:
    url = f"/crm/{version}/settings/related_lists?module=Accounts"
    lists = _json(client.get(url, headers=auth))["related_lists"]
    by_name = {r["api_name"]: r for r in lists}
    assert {"Notes", "Deals", "Contacts"} <= set(by_name)
    for item in lists:
        assert item["href"], item
    module = by_name["Deals"]["module"]
    if version == "v2":
        assert module == "Deals"
    else:
        assert module["api_name"] == "Deals"


def test_current_user_and_users(client: Any, auth: dict[str, str], crm: Any) -> None:
    body = _json(client.get("/crm/v8/users?type=CurrentUser", headers=auth))
    [me] = body["users"]
    assert "@" in me["email"]
    assert me["profile"]["name"] == "Administrator"
    assert body["info"]["count"] == 1
    all_users = _json(client.get("/crm/v8/users", headers=auth))["users"]
    assert me["id"] in [u["id"] for u in all_users]
    one = _json(client.get(f"/crm/v8/users/{me['id']}", headers=auth))["users"]
    assert one[0]["email"] == me["email"]
    assert client.get("/crm/v8/users/1234567890123456789", headers=auth).status_code == 204
    bad = _json(client.get("/crm/v8/users?type=Nobody", headers=auth), 400)
    assert bad["details"] == {"param_name": "type"}


def test_org(client: Any, auth: dict[str, str]) -> None:
    [org] = _json(client.get("/crm/v8/org", headers=auth))["org"]
    assert org["zgid"].isdigit()
    assert org["id"].isdigit()
    assert org["time_zone"]


def test_unknown_settings_paths(client: Any, auth: dict[str, str]) -> None:
    for path in ("/crm/v8/settings/layouts", "/crm/v8/settings", "/crm/v8/coql"):
        body = _json(client.get(path, headers=auth), 404)
        assert body["code"] == "INVALID_URL_PATTERN"
