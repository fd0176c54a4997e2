"""Record endpoints (compat §5): shapes, statuses, per-row errors, lenient parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest

JSON = "application/json;charset=UTF-8"


def _json(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON
    return response.json()


def _204(response: Any) -> None:
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert "content-type" not in response.headers


def create(client: Any, auth: dict[str, str], module: str, *rows: dict[str, Any]) -> list[str]:
    body = _json(client.post(f"/crm/v8/{module}", headers=auth, json={"data": list(rows)}), 201)
    return [row["details"]["id"] for row in body["data"]]


@pytest.fixture(scope="module")
def account(client: Any, auth: dict[str, str]) -> str:
    [acc] = create(client, auth, "Accounts", {"Account_Name": "Acme (EU), Ltd"})
    return acc


def test_create_get_shapes(client: Any, auth: dict[str, str], account: str) -> None:
    response = client.post(
        "/crm/v8/Deals",
        headers=auth,
        json={
            "data": [
                {
                    "Deal_Name": "Renewal 2026",
                    "Stage": "Qualification",
                    "Amount": 12500,
                    "Closing_Date": "2026-03-31",
                    "Account_Name": {"id": account},
                    "Created_Time": "1999-01-01T00:00:00+00:00",  # read-only: ignored
                    "No_Such_Field": 1,  # unknown: ignored
                }
            ],
            "trigger": ["workflow"],
        },
    )
    body = _json(response, 201)
    [row] = body["data"]
    assert row["code"] == "SUCCESS"
    assert row["message"] == "record added"
    assert row["status"] == "success"
    details = row["details"]
    assert {"Modified_Time", "Modified_By", "Created_Time", "id", "Created_By"} <= set(details)
    assert details["$approval_state"] == "approved"
    deal_id = details["id"]
    assert deal_id.isdigit() and 18 <= len(deal_id) <= 19

    got = _json(client.get(f"/crm/v8/Deals/{deal_id}", headers=auth))
    assert "info" not in got
    [deal] = got["data"]
    assert deal["id"] == deal_id
    assert deal["Deal_Name"] == "Renewal 2026"
    assert deal["Amount"] == 12500
    assert deal["Closing_Date"] == "2026-03-31"
    assert deal["Account_Name"] == {"name": "Acme (EU), Ltd", "id": account}
    assert set(deal["Owner"]) >= {"name", "id", "email"}
    assert deal["Created_Time"] != "1999-01-01T00:00:00+00:00"
    assert "No_Such_Field" not in deal
    assert deal["Tag"] == []
    # Ids as numbers in the path, unknown query params ignored, module case-insensitive.
    again = _json(client.get(f"/crm/v2/deals/{int(deal_id)}?id={deal_id}&x=1", headers=auth))
    assert again["data"][0]["id"] == deal_id
    # fields= restricts the output to those fields plus id.
    few = _json(client.get(f"/crm/v8/Deals/{deal_id}?fields=Stage,Nope", headers=auth))
    assert set(few["data"][0]) - {"$editable", "$approved", "$currency_symbol"} == {"id", "Stage"}


def test_lenient_bodies(client: Any, auth: dict[str, str]) -> None:
    raw = json.dumps({"data": [{"Deal_Name": "No content type", "Stage": "Qualification"}]})
    # No Content-Type (what the SDKs send), text/plain (what Deluge sends), a wrong label.
    for headers in ({}, {"Content-Type": "text/plain"}, {"Content-Type": "application/xml"}):
        response = client.post("/crm/v8/Deals", headers={**auth, **headers}, content=raw.encode())
        _json(response, 201)


def test_request_level_write_errors(client: Any, auth: dict[str, str]) -> None:
    bad_json = _json(client.post("/crm/v8/Deals", headers=auth, content=b"{nope"), 400)
    assert bad_json == {
        "code": "INVALID_DATA",
        "details": {},
        "message": "body is not valid JSON",
        "status": "error",
    }
    for body in (b"", b"{}", b'{"data": []}', b'{"data": {}}', b"[1]", b'"x"'):
        missing = _json(client.post("/crm/v8/Deals", headers=auth, content=body), 400)
        assert missing == {
            "code": "MANDATORY_NOT_FOUND",
            "details": {"api_name": "data"},
            "message": "required field not found",
            "status": "error",
        }
    too_many = {"data": [{"Deal_Name": "x", "Stage": "Qualification"}] * 101}
    body = _json(client.post("/crm/v8/Deals", headers=auth, json=too_many), 400)
    assert body["code"] == "LIMIT_EXCEEDED" and body["details"] == {"limit": 100}


def test_per_row_errors_and_207(client: Any, auth: dict[str, str]) -> None:
    rows = [
        {"Deal_Name": "ok row", "Stage": "Qualification"},
        {"Stage": "Qualification"},
        {"Deal_Name": "bad date", "Stage": "Qualification", "Closing_Date": "31/03/2026"},
        "not an object",
    ]
    body = _json(client.post("/crm/v8/Deals", headers=auth, json={"data": rows}), 207)
    ok, missing, bad, junk = body["data"]
    assert ok["status"] == "success"
    assert missing == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Deal_Name", "json_path": "$.data[1].Deal_Name"},
        "message": "required field not found",
        "status": "error",
    }
    assert bad["code"] == "INVALID_DATA"
    assert bad["details"]["api_name"] == "Closing_Date"
    assert bad["details"]["json_path"] == "$.data[2].Closing_Date"
    assert bad["details"]["expected_data_type"] == "date"
    assert junk["code"] == "INVALID_DATA" and junk["details"]["json_path"] == "$.data[3]"
    all_bad = _json(client.post("/crm/v8/Deals", headers=auth, json={"data": [{}]}), 400)
    assert all_bad["data"][0]["code"] == "MANDATORY_NOT_FOUND"


def test_update_single_and_bulk(client: Any, auth: dict[str, str]) -> None:
    a, b = create(
        client,
        auth,
        "Deals",
        {"Deal_Name": "upd a", "Stage": "Qualification"},
        {"Deal_Name": "upd b", "Stage": "Qualification"},
    )
    single = client.put(
        f"/crm/v8/Deals/{a}",
        headers=auth,
        content=json.dumps({"data": [{"id": b, "Stage": "Closed Won"}]}).encode(),
    )
    row = _json(single)["data"][0]
    assert row["message"] == "record updated" and row["details"]["id"] == a
    assert _json(client.get(f"/crm/v8/Deals/{a}", headers=auth))["data"][0]["Stage"] == "Closed Won"
    assert _json(client.get(f"/crm/v8/Deals/{b}", headers=auth))["data"][0]["Stage"] == (
        "Qualification"
    )
    bulk = _json(
        client.put(
            "/crm/v8/Deals",
            headers=auth,
            json={"data": [{"id": int(b), "Amount": "42.5"}, {"Amount": 1}]},
        ),
        207,
    )["data"]
    assert bulk[0]["status"] == "success"
    assert bulk[1] == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "id", "json_path": "$.data[1].id"},
        "message": "required field not found",
        "status": "error",
    }
    unknown = _json(
        client.put("/crm/v8/Deals/1234567890123456789", headers=auth, json={"data": [{}]}), 400
    )["data"][0]
    assert unknown == {
        "code": "INVALID_DATA",
        "details": {"api_name": "id", "json_path": "$.data[0].id"},
        "message": "the id given seems to be invalid",
        "status": "error",
    }


def test_bad_path_ids(client: Any, auth: dict[str, str]) -> None:
    for method in ("GET", "PUT", "DELETE"):
        body = _json(
            client.request(method, "/crm/v8/Deals/abc", headers=auth, json={"data": [{}]}), 400
        )
        assert body == {
            "code": "INVALID_DATA",
            "details": {"resource_path_index": 1},
            "message": "the id given seems to be invalid",
            "status": "error",
        }
    _204(client.get("/crm/v8/Deals/1234567890123456789", headers=auth))


def test_delete(client: Any, auth: dict[str, str]) -> None:
    a, b, c = create(
        client,
        auth,
        "Deals",
        *[{"Deal_Name": f"del {i}", "Stage": "Qualification"} for i in range(3)],
    )
    # A body on DELETE is accepted and ignored.
    one = _json(client.request("DELETE", f"/crm/v8/Deals/{a}", headers=auth, content=b"{}"))
    assert one["data"] == [
        {"code": "SUCCESS", "details": {"id": a}, "message": "record deleted", "status": "success"}
    ]
    _204(client.get(f"/crm/v8/Deals/{a}", headers=auth))
    bulk = _json(client.delete(f"/crm/v8/Deals?ids={b},{c},1234567890123456789", headers=auth), 207)
    assert [r["status"] for r in bulk["data"]] == ["success", "success", "error"]
    assert bulk["data"][2] == {
        "code": "INVALID_DATA",
        "details": {"id": "1234567890123456789"},
        "message": "record not deleted",
        "status": "error",
    }
    missing = _json(client.delete("/crm/v8/Deals", headers=auth), 400)
    assert missing == {
        "code": "REQUIRED_PARAM_MISSING",
        "details": {"param_name": "ids"},
        "message": "One of the expected parameter is missing",
        "status": "error",
    }
    many = ",".join(str(10**18 + i) for i in range(101))
    assert _json(client.delete(f"/crm/v8/Deals?ids={many}", headers=auth), 400)["code"] == (
        "LIMIT_EXCEEDED"
    )


def test_upsert(client: Any, auth: dict[str, str]) -> None:
    rows = {"data": [{"Last_Name": "Boyle", "Email": "p.boyle@example.com"}], "trigger": []}
    first = _json(client.post("/crm/v8/Leads/upsert", headers=auth, json=rows), 201)["data"][0]
    assert first["action"] == "insert" and first["message"] == "record added"
    rows["data"][0]["Company"] = "Zylker"
    rows["duplicate_check_fields"] = ["Email"]
    second = _json(client.post("/crm/v8/Leads/upsert", headers=auth, json=rows), 200)["data"][0]
    assert second["action"] == "update"
    assert second["duplicate_field"] == "Email"
    assert second["details"]["id"] == first["details"]["id"]


def test_list_paging_and_info(client: Any, auth: dict[str, str]) -> None:
    ids = create(
        client,
        auth,
        "Products",
        *[{"Product_Name": f"Widget {i:02d}", "Unit_Price": i} for i in range(5)],
    )
    page1 = _json(client.get("/crm/v8/Products?per_page=2&fields=Product_Name", headers=auth))
    info = page1["info"]
    assert info["per_page"] == 2 and info["count"] == 2 and info["page"] == 1
    assert info["more_records"] is True
    assert {"sort_by", "sort_order", "next_page_token"} <= set(info)
    legacy = _json(client.get("/crm/v2/Products?per_page=2", headers=auth))["info"]
    assert set(legacy) == {"per_page", "count", "page", "more_records"}
    seen: list[str] = []
    page = 1
    while True:
        response = client.get(f"/crm/v2/Products?per_page=2&page={page}", headers=auth)
        if response.status_code == 204:
            break
        body = _json(response)
        seen += [r["id"] for r in body["data"]]
        if not body["info"]["more_records"]:
            break
        page += 1
    assert sorted(seen) == sorted(ids)
    _204(client.get("/crm/v8/Products?page=99", headers=auth))
    # Default sort is id desc; asc reverses.
    asc = _json(client.get("/crm/v8/Products?sort_order=asc&sort_by=id", headers=auth))["data"]
    assert [r["id"] for r in asc] == sorted(ids)
    # ids= restricts; per_page above 200 is treated as 200.
    only = _json(client.get(f"/crm/v8/Products?ids={ids[0]},{ids[1]}&per_page=5000", headers=auth))
    assert sorted(r["id"] for r in only["data"]) == sorted(ids[:2])
    assert only["info"]["per_page"] == 200
    # page_token (v3+) continues a listing; combined with page it is ambiguous.
    token = page1["info"]["next_page_token"]
    assert token
    page2 = _json(
        client.get(
            f"/crm/v8/Products?per_page=2&fields=Product_Name&page_token={token}", headers=auth
        )
    )
    assert not {r["id"] for r in page2["data"]} & {r["id"] for r in page1["data"]}
    both = _json(client.get(f"/crm/v8/Products?page=2&page_token={token}", headers=auth), 400)
    assert both["code"] == "AMBIGUITY_DURING_PROCESSING"
    bad = _json(client.get("/crm/v8/Products?per_page=abc", headers=auth), 400)
    assert bad["details"] == {"param_name": "per_page"}
    fields = ",".join(f"F{i}" for i in range(51))
    assert _json(client.get(f"/crm/v8/Products?fields={fields}", headers=auth), 400)["details"] == {
        "limit": 50
    }


def test_first_value_of_repeated_params(client: Any, auth: dict[str, str]) -> None:
    body = _json(client.get("/crm/v8/Products?per_page=1&per_page=3", headers=auth))
    assert body["info"]["per_page"] == 1


def test_search(client: Any, auth: dict[str, str], account: str) -> None:
    create(
        client,
        auth,
        "Contacts",
        {"Last_Name": "Searchable", "Email": "Find.Me@Example.com", "Phone": "+1 (555) 010-9999"},
    )
    by_email = _json(client.get("/crm/v8/Contacts/search?email=find.me@example.com", headers=auth))
    assert [r["Last_Name"] for r in by_email["data"]] == ["Searchable"]
    assert set(by_email["info"]) == {"per_page", "count", "page", "more_records"}
    by_phone = _json(client.get("/crm/v8/Contacts/search?phone=%2B15550109999", headers=auth))
    assert by_phone["data"][0]["Last_Name"] == "Searchable"
    by_word = _json(client.get("/crm/v8/Contacts/search?word=earchab", headers=auth))
    assert by_word["data"][0]["Last_Name"] == "Searchable"
    escaped = client.get(
        "/crm/v8/Accounts/search",
        params={"criteria": r"(Account_Name:equals:Acme \(EU\)\, Ltd)"},
        headers=auth,
    )
    assert _json(escaped)["data"][0]["id"] == account
    _204(client.get("/crm/v8/Contacts/search?criteria=(Last_Name:equals:Nobody)", headers=auth))
    none = _json(client.get("/crm/v8/Contacts/search", headers=auth), 400)
    assert none["code"] == "EXPECTED_PARAM_MISSING"
    assert none["message"] == "mandatory param missing"
    short = _json(client.get("/crm/v8/Contacts/search?word=a", headers=auth), 400)
    assert short["details"] == {"param_name": "word"}
    syntax = _json(
        client.get("/crm/v8/Contacts/search?criteria=(Last_Name:equals", headers=auth), 400
    )
    assert syntax["code"] == "INVALID_QUERY" and syntax["message"] == "invalid query formed"
    op = _json(
        client.get("/crm/v8/Deals/search?criteria=(Amount:starts_with:5)", headers=auth), 400
    )
    assert op["code"] == "INVALID_QUERY" and op["details"]["api_name"] == "Amount"


def test_related_records_and_notes(client: Any, auth: dict[str, str], account: str) -> None:
    [deal] = create(client, auth, "Deals", {"Deal_Name": "With notes", "Stage": "Qualification"})
    _204(client.get(f"/crm/v8/Deals/{deal}/Notes", headers=auth))
    # Link the deal to the account through the related list, then read it back.
    linked = _json(client.put(f"/crm/v8/Accounts/{account}/Deals/{deal}", headers=auth))
    assert linked["data"][0]["message"] == "relation added"
    assert linked["data"][0]["details"] == {"id": deal}
    related = _json(client.get(f"/crm/v8/accounts/{account}/Deals", headers=auth))
    assert deal in [r["id"] for r in related["data"]]
    unlinked = _json(client.delete(f"/crm/v8/Accounts/{account}/Deals/{deal}", headers=auth))
    assert unlinked["data"][0]["message"] == "relation removed"
    after = client.get(f"/crm/v8/Accounts/{account}/Deals", headers=auth)
    rel_ids = [r["id"] for r in after.json()["data"]] if after.status_code == 200 else []
    assert deal not in rel_ids
    # Notes: three ways to create, read through the related list.
    _json(
        client.post(
            "/crm/v8/Notes",
            headers=auth,
            json={
                "data": [{"Note_Content": "plain form", "Parent_Id": deal, "se_module": "Deals"}]
            },
        ),
        201,
    )
    _json(
        client.post(
            "/crm/v8/Notes",
            headers=auth,
            json={
                "data": [
                    {
                        "Note_Content": "v8 form",
                        "Parent_Id": {"module": {"api_name": "Deals"}, "id": deal},
                    }
                ]
            },
        ),
        201,
    )
    made = _json(
        client.post(
            f"/crm/v8/Deals/{deal}/Notes",
            headers=auth,
            json={"data": [{"Note_Title": "t", "Note_Content": "nested form"}]},
        ),
        201,
    )
    note_id = made["data"][0]["details"]["id"]
    notes = _json(client.get(f"/crm/v8/Deals/{deal}/Notes", headers=auth))["data"]
    assert sorted(n["Note_Content"] for n in notes) == ["nested form", "plain form", "v8 form"]
    parent = next(n for n in notes if n["id"] == note_id)["Parent_Id"]
    assert parent["id"] == deal and parent["module"]["api_name"] == "Deals"
    assert parent["name"] == "With notes"
    upd = _json(
        client.put(
            f"/crm/v8/Deals/{deal}/Notes/{note_id}",
            headers=auth,
            json={"data": [{"Note_Content": "changed"}]},
        )
    )
    assert upd["data"][0]["message"] == "record updated"
    _json(
        client.put(f"/crm/v8/Notes/{note_id}", headers=auth, json={"data": [{"Note_Title": "t2"}]})
    )
    gone = _json(client.delete(f"/crm/v8/Deals/{deal}/Notes/{note_id}", headers=auth))
    assert gone["data"][0]["message"] == "record deleted"
    assert len(_json(client.get(f"/crm/v8/Deals/{deal}/Notes", headers=auth))["data"]) == 2
    missing = _json(
        client.post(
            f"/crm/v8/Deals/{deal}/Notes", headers=auth, json={"data": [{"Note_Title": "x"}]}
        ),
        400,
    )
    assert missing["data"][0]["details"]["api_name"] == "Note_Content"
    # Deleting the deal deletes its notes.
    _json(client.delete(f"/crm/v8/Deals/{deal}", headers=auth))
    _204(client.get(f"/crm/v8/Deals/{deal}/Notes", headers=auth))


def test_related_errors(client: Any, auth: dict[str, str], account: str) -> None:
    body = _json(client.get(f"/crm/v8/Accounts/{account}/Nope", headers=auth), 400)
    assert body == {
        "code": "INVALID_DATA",
        "details": {"resource_path_index": 2},
        "message": "the relation name given seems to be invalid",
        "status": "error",
    }
    _204(client.get("/crm/v8/Accounts/1234567890123456789/Deals", headers=auth))
    assert _json(client.get("/crm/v8/Accounts/x/Deals", headers=auth), 400)["details"] == {
        "resource_path_index": 1
    }


def test_unknown_module_version_path_method(client: Any, auth: dict[str, str]) -> None:
    assert _json(client.get("/crm/v8/Nope", headers=auth), 400) == {
        "code": "INVALID_MODULE",
        "details": {},
        "message": "the module name given seems to be invalid",
        "status": "error",
    }
    for path in (
        "/crm/v9/Deals",
        "/crm/v1/Deals",
        "/nowhere",
        "/crm/v8/Deals/deleted",
        "/crm/v8/Deals/1/2/3/4",
    ):
        body = _json(client.get(path, headers=auth), 404)
        assert body == {
            "code": "INVALID_URL_PATTERN",
            "details": {},
            "message": "Please check if the URL trying to access is a correct one",
            "status": "error",
        }
    body = _json(client.patch("/crm/v8/Deals", headers=auth), 400)
    assert body == {
        "code": "INVALID_REQUEST_METHOD",
        "details": {},
        "message": "The http request method type is not a valid one",
        "status": "error",
    }


def test_no_permission(crm: Any, client: Any, auth: dict[str, str], monkeypatch: Any) -> None:
    real = crm.oauth.authenticate

    class ReadOnly:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def can(self, module: str, op: str) -> bool:
            return op == "read"

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    def authenticate(token: str) -> Any:
        principal = real(token)

        class Wrapped:
            profile = ReadOnly(principal.profile)

            def __getattr__(self, name: str) -> Any:
                return getattr(principal, name)

        return Wrapped()

    monkeypatch.setattr(crm.oauth, "authenticate", authenticate)
    assert client.get("/crm/v8/Deals", headers=auth).status_code in (200, 204)
    body = _json(client.post("/crm/v8/Deals", headers=auth, json={"data": [{}]}), 403)
    assert body["code"] == "NO_PERMISSION" and body["message"] == "permission denied"
