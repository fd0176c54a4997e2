"""Search in SQL: criteria translation, escapes, injection attempts, email/phone/word, paging."""

# ruff: noqa: F401, F811  (pytest fixtures imported from floodway.crm.testing)

from __future__ import annotations

import secrets
from typing import Any

import pytest
import sqlalchemy as sa

from floodway.crm import Crm, CrmError
from floodway.crm.criteria import parse_criteria
from floodway.crm.criteria_sql import criteria_clause, like_pattern
from floodway.crm.testing import admin_actor, crm, fresh_crm


@pytest.fixture(scope="module")
def world(crm: Crm) -> dict[str, Any]:
    """A small module of its own, so the other tests' records never match."""
    tag = secrets.token_hex(3)
    name = f"Shop{tag}"
    crm.metadata.add_module(name)
    for api, typ, kw in [
        ("Amount", "currency", {}),
        ("Qty", "integer", {}),
        ("Big", "bigint", {}),
        ("Stage", "picklist", {"pick_list_values": ["Open", "Closed Won", "Closed Lost"]}),
        ("Due", "date", {}),
        ("At", "datetime", {}),
        ("Done", "boolean", {}),
        ("Email", "email", {}),
        ("Phone", "phone", {}),
        ("Notes", "textarea", {}),
        ("Tags", "multiselectpicklist", {"pick_list_values": ["red", "green", "blue"]}),
        ("Account", "lookup", {"lookup_module": "Accounts"}),
    ]:
        crm.metadata.add_field(name, api, typ, **kw)
    acc = crm.records.create(
        "Accounts", [{"Account_Name": f"Acme {tag} (EU)"}], actor=admin_actor(crm)
    )[0]["details"]["id"]
    rows = [
        {
            "Name": "Alpha",
            "Amount": 100,
            "Qty": 1,
            "Big": "9000000000000000001",
            "Stage": "Open",
            "Due": "2026-01-10",
            "At": "2026-01-10T10:00:00Z",
            "Done": True,
            "Email": "Alpha@Example.com",
            "Phone": "+1 (555) 010-0001",
            "Notes": "first, of all",
            "Tags": ["red", "green"],
            "Account": acc,
        },
        {
            "Name": "Beta (EU)",
            "Amount": 250.5,
            "Qty": 2,
            "Stage": "Closed Won",
            "Due": "2026-02-10",
            "At": "2026-02-10T10:00:00+02:00",
            "Done": False,
            "Email": "beta@example.com",
            "Phone": "555-0002",
            "Notes": "50% off_now",
            "Tags": ["blue"],
        },
        {
            "Name": "Gamma,Inc",
            "Amount": 1000,
            "Qty": 3,
            "Stage": "closed won",
            "Due": "2026-03-10",
            "Email": "gamma@example.org",
            "Notes": "back\\slash",
        },
        {"Name": "Delta'; DROP TABLE records; --", "Stage": "Closed Lost"},
        {"Name": "Épsilon", "Amount": 5, "Stage": "Open"},
    ]
    res = crm.records.create(name, rows, actor=admin_actor(crm))
    assert all(r["status"] == "success" for r in res), res
    ids = {row["Name"]: r["details"]["id"] for row, r in zip(rows, res)}
    return {"module": name, "ids": ids, "account": acc, "tag": tag}


def names(crm: Crm, world: dict[str, Any], criteria: str, **kw: Any) -> set[str]:
    page = crm.records.search(world["module"], criteria=criteria, **kw)
    return {r["Name"] for r in page.data}


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ("(Stage:equals:Closed Won)", {"Beta (EU)", "Gamma,Inc"}),
        ("(Stage:equals:CLOSED WON)", {"Beta (EU)", "Gamma,Inc"}),
        ("(Stage:not_equal:Open)", {"Beta (EU)", "Gamma,Inc", "Delta'; DROP TABLE records; --"}),
        ("(Stage:in:Open,Closed Lost)", {"Alpha", "Épsilon", "Delta'; DROP TABLE records; --"}),
        ("(Name:starts_with:al)", {"Alpha"}),
        ("(Name:contains:ET)", {"Beta (EU)"}),
        ("(Name:equals:Beta \\(EU\\))", {"Beta (EU)"}),
        ("(Name:equals:Beta \\\\(EU\\\\))", {"Beta (EU)"}),
        ("(Name:equals:Gamma\\,Inc)", {"Gamma,Inc"}),
        ("(Notes:contains:50%)", {"Beta (EU)"}),
        ("(Notes:contains:f_n)", {"Beta (EU)"}),
        ("(Notes:contains:%)", {"Beta (EU)"}),
        ("(Notes:contains:_)", {"Beta (EU)"}),
        ("(Notes:contains:\\\\)", {"Gamma,Inc"}),
        ("(Amount:greater_than:250)", {"Beta (EU)", "Gamma,Inc"}),
        ("(Amount:greater_equal:250.5)", {"Beta (EU)", "Gamma,Inc"}),
        ("(Amount:less_than:100)", {"Épsilon"}),
        ("(Amount:between:100,250.5)", {"Alpha", "Beta (EU)"}),
        ("(Amount:equals:1000)", {"Gamma,Inc"}),
        ("(Qty:in:1,3)", {"Alpha", "Gamma,Inc"}),
        ("(Big:equals:9000000000000000001)", {"Alpha"}),
        ("(Due:less_equal:2026-02-10)", {"Alpha", "Beta (EU)"}),
        ("(Due:between:2026-02-01,2026-03-31)", {"Beta (EU)", "Gamma,Inc"}),
        ("(At:equals:2026-02-10T08:00:00Z)", {"Beta (EU)"}),
        ("(At:greater_than:2026-01-10T10:00:00+00:00)", {"Beta (EU)"}),
        ("(Done:equals:true)", {"Alpha"}),
        ("(Done:equals:false)", {"Beta (EU)"}),
        ("(Done:not_equal:true)", {"Beta (EU)"}),
        ("(Tags:equals:Blue)", {"Beta (EU)"}),
        ("(Tags:in:red,blue)", {"Alpha", "Beta (EU)"}),
        ("(Tags:not_equal:red)", {"Beta (EU)"}),
        ("(Tags:starts_with:gr)", {"Alpha"}),
        ("(Amount:equals:${EMPTY})", {"Delta'; DROP TABLE records; --"}),
        ("(Tags:not_equal:${EMPTY})", {"Alpha", "Beta (EU)"}),
        ("(Email:equals:ALPHA@example.com)", {"Alpha"}),
        ("((Stage:equals:Closed Won)and(Amount:greater_than:500))", {"Gamma,Inc"}),
        ("((Stage:equals:Open)or(Qty:equals:2))", {"Alpha", "Beta (EU)", "Épsilon"}),
        ("(Stage:equals:Open)and(Amount:less_than:10)or(Qty:equals:3)", {"Épsilon", "Gamma,Inc"}),
        ("Name:equals:Alpha", {"Alpha"}),
        ("(Notes:not_contains:off)", {"Alpha", "Gamma,Inc"}),
    ],
)
def test_criteria(crm: Crm, world: dict[str, Any], criteria: str, expected: set[str]) -> None:
    assert names(crm, world, criteria) == expected


def test_lookup_and_owner_conditions(crm: Crm, world: dict[str, Any]) -> None:
    acc = world["account"]
    assert names(crm, world, f"(Account:equals:{acc})") == {"Alpha"}
    assert names(crm, world, f"(Account.id:equals:{acc})") == {"Alpha"}
    assert names(crm, world, f"(Account:equals:acme {world['tag']} \\(eu\\))") == {"Alpha"}
    assert names(crm, world, "(Account.name:starts_with:ACME)") == {"Alpha"}
    assert names(crm, world, f"(Account:not_equal:{acc})") == set()
    assert len(names(crm, world, "(Owner:equals:admin@floodway.local)")) == 5
    assert len(names(crm, world, f"(Owner:equals:{crm.primary_admin_id})")) == 5
    assert len(names(crm, world, "(Owner.email:equals:ADMIN@floodway.local)")) == 5
    assert names(crm, world, "(Owner:equals:nobody@example.com)") == set()
    alpha = world["ids"]["Alpha"]
    assert names(crm, world, f"(id:equals:{alpha})") == {"Alpha"}
    assert len(names(crm, world, "(Created_Time:greater_than:2020-01-01T00:00:00Z)")) == 5
    assert names(crm, world, "(Created_Time:less_than:2020-01-01)") == set()


def test_injection_attempts_stay_values(crm: Crm, world: dict[str, Any]) -> None:
    attack = "Delta'; DROP TABLE records; --"
    assert names(crm, world, f"(Name:equals:{attack})") == {attack}
    for text in [
        "(Name:equals:x' OR '1'='1)",
        '(Name:equals:x" OR 1=1 --)',
        "(Name:contains:') OR 1=1 --)",
        "(Notes:starts_with:%' OR name LIKE '%)",
        "(Stage:in:Open') OR ('1'='1,Closed Lost)",
        "(Name:equals:$.Name)",
        "(Amount:equals:1); DROP TABLE records; --)",
    ]:
        try:
            assert names(crm, world, text) == set()
        except CrmError as e:
            assert e.code == "INVALID_QUERY"
    with crm.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM records")).scalar() > 0


def test_sql_uses_bound_parameters(crm: Crm, world: dict[str, Any]) -> None:
    mod = crm.metadata.module(world["module"])
    tree = parse_criteria("((Name:equals:o'brien)or(Notes:contains:50%_x)or(Amount:between:1,2))")
    clause = criteria_clause(tree, mod, crm.metadata.field_types(mod), crm.engine.dialect.name)
    compiled = clause.compile(dialect=crm.engine.dialect)
    sql = str(compiled)
    assert "o'brien" not in sql and "50" not in sql
    assert "o'brien" in compiled.params.values()
    assert "%50\\%\\_x%" in compiled.params.values()
    assert like_pattern("a%b_c\\", True, False) == "%a\\%b\\_c\\\\"


@pytest.mark.parametrize(
    ("criteria", "code", "details"),
    [
        (
            "(Amount:starts_with:1)",
            "INVALID_QUERY",
            {"api_name": "Amount", "operator": "starts_with"},
        ),
        ("(Nope:equals:1)", "INVALID_QUERY", {"api_name": "Nope"}),
        ("(Amount:equals:abc)", "INVALID_QUERY", {"api_name": "Amount"}),
        ("(Due:equals:31/01/2026)", "INVALID_QUERY", {"api_name": "Due"}),
        ("(Name:equals:x", "INVALID_QUERY", {}),
        ("(Name:bogus:x)", "INVALID_QUERY", {}),
        ("(Amount:equals:1)" + "and(Amount:equals:1)" * 10, "LIMIT_EXCEEDED", {"limit": 10}),
    ],
)
def test_bad_criteria(
    crm: Crm,
    world: dict[str, Any],
    criteria: str,
    code: str,
    details: dict[str, Any],
) -> None:
    with pytest.raises(CrmError) as e:
        crm.records.search(world["module"], criteria=criteria)
    assert e.value.code == code and e.value.http_status == 400
    for k, v in details.items():
        assert e.value.details[k] == v
    if code == "INVALID_QUERY":
        assert e.value.message == "invalid query formed"


def test_email_phone_word(crm: Crm, world: dict[str, Any]) -> None:
    mod = world["module"]

    def run(**kw: Any) -> set[str]:
        return {r["Name"] for r in crm.records.search(mod, **kw).data}

    assert run(email="ALPHA@example.COM") == {"Alpha"}
    assert run(phone="+15550100001") == {"Alpha"}
    assert run(phone="555 0002") == {"Beta (EU)"}
    assert run(word="of all") == {"Alpha"}
    assert run(word="ETA (") == {"Beta (EU)"}
    assert run(criteria="(Qty:equals:3)", email="alpha@example.com") == {"Gamma,Inc"}
    with pytest.raises(CrmError) as e:
        crm.records.search(mod, word="a")
    assert e.value.code == "INVALID_DATA" and e.value.details == {"param_name": "word"}
    with pytest.raises(CrmError) as e:
        crm.records.search(mod)
    assert e.value.code == "EXPECTED_PARAM_MISSING"
    assert e.value.details == {"expected_params": ["criteria", "email", "phone", "word"]}


def test_search_sorting_and_info(crm: Crm, world: dict[str, Any]) -> None:
    mod = world["module"]
    page = crm.records.search(
        mod, criteria="(Amount:greater_than:0)", sort_by="Amount", sort_order="asc"
    )
    assert [r["Name"] for r in page.data] == ["Épsilon", "Alpha", "Beta (EU)", "Gamma,Inc"]
    assert page.info == {"per_page": 200, "count": 4, "page": 1, "more_records": False}
    page = crm.records.search(mod, criteria="(Stage:not_equal:x)", sort_by="Amount", per_page=2)
    assert [r["Name"] for r in page.data] == ["Gamma,Inc", "Beta (EU)"]
    assert page.info["more_records"] is True
    page = crm.records.search(
        mod, criteria="(Stage:not_equal:x)", sort_by="Amount", per_page=2, page=3
    )
    # nulls sort last whatever the direction
    assert [r["Name"] for r in page.data] == ["Delta'; DROP TABLE records; --"]
    assert page.info["more_records"] is False
    with pytest.raises(CrmError) as e:
        crm.records.search(mod, criteria="(Qty:equals:1)", sort_by="Tags")
    assert e.value.details == {"param_name": "sort_by"}


def test_search_beyond_2000_is_limit_reached(crm: Crm, world: dict[str, Any]) -> None:
    with pytest.raises(CrmError) as e:
        crm.records.search(world["module"], criteria="(Qty:equals:1)", page=11, per_page=200)
    assert e.value.code == "LIMIT_REACHED" and e.value.details == {"limit": 2000}
    assert e.value.message == "Maximum response iteration limit reached"


def test_listing_paging_and_page_token(fresh_crm: Crm) -> None:
    c = fresh_crm
    actor = admin_actor(c)
    for batch in range(23):
        rows = [{"Product_Name": f"P{batch * 100 + i:04d}"} for i in range(100)]
        assert all(
            r["status"] == "success" for r in c.records.create("Products", rows, actor=actor)
        )
    page = c.records.list("Products", per_page=500)
    assert page.info["per_page"] == 200 and page.info["count"] == 200
    assert page.info["more_records"] is True and page.info["sort_by"] == "id"
    assert page.info["sort_order"] == "desc"
    assert page.data[0]["Product_Name"] == "P2299"
    seen = [r["id"] for r in page.data]
    token = page.info["next_page_token"]
    assert token and page.info["page_token_expiry"]
    for page_no in range(2, 13):
        page = c.records.list("Products", per_page=200, page_token=token, actor=None)
        assert page.info["page"] == page_no
        seen += [r["id"] for r in page.data]
        token = page.info["next_page_token"]
        if not page.info["more_records"]:
            break
    assert token is None and len(seen) == 2300 and len(set(seen)) == 2300
    assert seen == sorted(seen, reverse=True)
    # the same records by page number, past 2,000 (not enforced by default)
    page12 = c.records.list("Products", page=12, per_page=200)
    assert [r["id"] for r in page12.data] == seen[2200:]
    assert c.records.list("Products", page=13).data == []
    first = c.records.list("Products", per_page=10, fields="Product_Name")
    tok = first.info["next_page_token"]
    with pytest.raises(CrmError) as e:
        c.records.list("Products", per_page=20, page_token=tok, fields="Product_Name")
    assert e.value.code == "TOKEN_BOUND_DATA_MISMATCH"
    with pytest.raises(CrmError) as e:
        c.records.list("Products", per_page=10, page=2, page_token=tok, fields="Product_Name")
    assert e.value.code == "AMBIGUITY_DURING_PROCESSING"
    with pytest.raises(CrmError) as e:
        c.records.list("Products", per_page=10, page_token=tok[:-2] + "AA", fields="Product_Name")
    assert e.value.code == "INVALID_DATA"
    with pytest.raises(CrmError) as e:
        c.records.list("Leads", per_page=10, page_token=tok, fields="Product_Name")
    assert e.value.code == "TOKEN_BOUND_DATA_MISMATCH"
    second = c.records.list("Products", per_page=10, page_token=tok, fields="Product_Name")
    assert second.data[0] == {"Product_Name": "P2289", "id": second.data[0]["id"]}
    # ids filter and sorting by a field
    some = c.records.list(
        "Products", ids=",".join(seen[:3]), sort_by="Product_Name", sort_order="asc"
    )
    assert [r["Product_Name"] for r in some.data] == ["P2297", "P2298", "P2299"]
    with pytest.raises(CrmError) as e:
        c.records.list("Products", fields=",".join(f"F{i}" for i in range(51)))
    assert e.value.code == "LIMIT_EXCEEDED" and e.value.details == {"limit": 50}


def test_page_token_expires(fresh_crm: Crm) -> None:
    import datetime as dt

    c = fresh_crm
    c.records.create(
        "Products", [{"Product_Name": f"X{i}"} for i in range(3)], actor=admin_actor(c)
    )
    tok = c.records.list("Products", per_page=1).info["next_page_token"]
    real = c.clock
    c.clock = lambda: real() + dt.timedelta(hours=25)
    try:
        with pytest.raises(CrmError) as e:
            c.records.list("Products", per_page=1, page_token=tok)
        assert e.value.code == "EXPIRED_VALUE"
    finally:
        c.clock = real
