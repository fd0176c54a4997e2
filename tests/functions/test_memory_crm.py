"""Tests of the in-memory CRM behind ``zoho.crm.*`` (deluge-language.md §12)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from floodway.deluge.errors import DelugeRuntimeError
from floodway.deluge.host import User
from floodway.deluge.values import (
    Collection,
    DateTime,
    DelugeList,
    DelugeMap,
    File,
    to_json_text,
)
from floodway.functions.memory_crm import Change, FieldDef, MemoryCrm, parse_date_text

ANA = User("4150868000000224001", "Ana Admin", "ana@example.com")
BOB = User("4150868000000224002", "Bob Sales", "bob@example.com")
NOW = dt.datetime(2026, 2, 5, 14, 3, 9, tzinfo=dt.UTC)
ISO = "2026-02-05T14:03:09+00:00"


def M(**kw: Any) -> DelugeMap:
    return DelugeMap(kw)


def L(*items: Any) -> DelugeList:
    return DelugeList(items)


@pytest.fixture
def crm() -> MemoryCrm:
    c = MemoryCrm(BOB, ANA, lambda: NOW, org_variables={"Score": "10"}, zapikey="zk-123")
    return c


@pytest.fixture
def acme(crm: MemoryCrm) -> str:
    return crm.seed("Accounts", [{"Account_Name": "Acme Ltd", "Billing_City": "Paris"}])[0]


def create(crm: MemoryCrm, module: str, **fields: Any) -> DelugeMap:
    out = crm.crm_task("createrecord", [module, DelugeMap(fields)])
    assert type(out) is DelugeMap
    return out


# --------------------------------------------------------------------------- reading


def test_record_shape_of_get_record_by_id(crm: MemoryCrm, acme: str) -> None:
    d = create(
        crm,
        "Deals",
        Deal_Name="Renewal 2026",
        Stage="Qualification",
        Amount=12500,
        Probability=20,
        Closing_Date="2026-03-31",
        Account_Name=acme,
    )
    r = crm.crm_task("getrecordbyid", ["Deals", d["id"]])
    assert r["Owner"] == M(name="Bob Sales", id=BOB.id, email="bob@example.com")
    assert r["Deal_Name"] == "Renewal 2026"
    assert r["Amount"] == 12500.0 and type(r["Amount"]) is float
    assert r["Probability"] == 20 and type(r["Probability"]) is int
    assert r["Closing_Date"] == "2026-03-31"
    assert r["Account_Name"] == M(name="Acme Ltd", id=acme)
    assert r["Contact_Name"] is None and r["Description"] is None
    assert r["Tag"] == L() and type(r["Tag"]) is DelugeList
    assert r["$editable"] is True and r["$currency_symbol"] == "$"
    assert r["Created_Time"] == ISO and r["Modified_Time"] == ISO
    assert r["Created_By"] == M(name="Bob Sales", id=BOB.id, email="bob@example.com")
    assert type(r["id"]) is str and len(r["id"]) == 19
    assert next(iter(r)) == "Owner" and list(r)[-1] == "id"
    json.loads(to_json_text(r))  # only Deluge values inside


def test_get_record_by_id_accepts_number_and_text(crm: MemoryCrm, acme: str) -> None:
    assert crm.crm_task("getrecordbyid", ["accounts", int(acme)])["id"] == acme
    assert crm.crm_task("getrecordbyid", ["Accounts", acme, M(), "crm_conn"])["id"] == acme
    assert crm.crm_task("getrecordbyid", ["Accounts", acme, "crm_conn"])["id"] == acme


def test_get_record_by_id_fields(crm: MemoryCrm, acme: str) -> None:
    r = crm.crm_task("getrecordbyid", ["Accounts", acme, M(fields="account_name,Nope")])
    assert r == M(Account_Name="Acme Ltd", id=acme)


@pytest.mark.parametrize("bad", ["123", 123, "12a", None, "4150868000000999001"])
def test_get_record_by_id_invalid(crm: MemoryCrm, bad: Any) -> None:
    r = crm.crm_task("getrecordbyid", ["Accounts", bad])
    assert r["code"] == "INVALID_DATA"
    assert r["message"] == "the id given seems to be invalid"
    assert r["status"] == "error"
    assert r["details"]["api_name"] == "id"
    assert r.get("id") is None
    assert list(r) == ["code", "details", "message", "status"]


def test_invalid_module(crm: MemoryCrm) -> None:
    for task, args in [
        ("getrecordbyid", ["Nope", "1"]),
        ("getrecords", ["Nope"]),
        ("searchrecords", ["Nope", "(a:equals:b)"]),
        ("createrecord", ["Nope", M()]),
    ]:
        r = crm.crm_task(task, args)
        assert r == M(
            code="INVALID_MODULE",
            details=M(),
            message="the module name given seems to be invalid",
            status="error",
        )


def test_argument_types_raise(crm: MemoryCrm) -> None:
    with pytest.raises(
        DelugeRuntimeError, match=r"Argument 1 of zoho\.crm\.getRecordById must be TEXT, found LIST"
    ):
        crm.crm_task("getrecordbyid", [L("Deals"), "1"])
    with pytest.raises(DelugeRuntimeError, match="found MAP"):
        crm.crm_task("getrecordbyid", ["Deals", M()])
    with pytest.raises(DelugeRuntimeError, match="must be MAP"):
        crm.crm_task("createrecord", ["Deals", "x"])
    with pytest.raises(DelugeRuntimeError, match="must be TEXT"):
        crm.crm_task("searchrecords", ["Deals", 5])
    with pytest.raises(DelugeRuntimeError, match="expects 2 to 4 arguments, found 1"):
        crm.crm_task("getrecordbyid", ["Deals"])
    with pytest.raises(DelugeRuntimeError, match="is not a CRM task"):
        crm.crm_task("explode", [])


def test_get_records_paging_and_sorting(crm: MemoryCrm) -> None:
    ids = crm.seed("Accounts", [{"Account_Name": f"A{i:03d}"} for i in range(250)])
    assert ids == sorted(ids)
    page1 = crm.crm_task("getrecords", ["Accounts"])
    assert len(page1) == 200 and page1[0]["id"] == ids[-1]  # default id descending
    page2 = crm.crm_task("getrecords", ["Accounts", 2, 200])
    assert len(page2) == 50
    assert crm.crm_task("getrecords", ["Accounts", 3, 200]) == L()
    assert len(crm.crm_task("getrecords", ["Accounts", 1, 500])) == 200  # clamped
    asc = crm.crm_task(
        "getrecords", ["Accounts", 1, 3, M(sort_by="Account_Name", sort_order="asc")]
    )
    assert [r["Account_Name"] for r in asc] == ["A000", "A001", "A002"]
    only = crm.crm_task("getrecords", ["Accounts", 1, 1, M(fields="Account_Name")])
    assert only == L(M(Account_Name="A249", id=ids[-1]))
    assert crm.crm_task("getrecords", ["Deals"]) == L()


def test_search_records(crm: MemoryCrm, acme: str) -> None:
    other = crm.seed("Accounts", [{"Account_Name": "Zylker"}])[0]
    crm.seed(
        "Deals",
        [
            {"Deal_Name": "A", "Stage": "Closed Won", "Amount": 6000, "Account_Name": acme},
            {"Deal_Name": "B", "Stage": "Closed Won", "Amount": 100, "Account_Name": other},
            {"Deal_Name": "C", "Stage": "Qualification", "Amount": 9000},
        ],
    )
    r = crm.crm_task(
        "searchrecords", ["Deals", "((Stage:equals:closed won)and(Amount:greater_than:5000))"]
    )
    assert [x["Deal_Name"] for x in r] == ["A"]
    r = crm.crm_task("searchrecords", ["Potentials", "(Account_Name:equals:Zylker)"])
    assert [x["Deal_Name"] for x in r] == ["B"]
    # empty fields never match, not even not_equal
    r = crm.crm_task("searchrecords", ["Deals", "(Account_Name:not_equal:Zylker)"])
    assert [x["Deal_Name"] for x in r] == ["A"]
    assert crm.crm_task("searchrecords", ["Deals", "(Deal_Name:equals:nothing)"]) == L()
    r = crm.crm_task("searchrecords", ["Deals", "(Deal_Name:in:A,B)", 1, 1])
    assert len(r) == 1
    r = crm.crm_task(
        "searchrecords", ["Deals", "(Deal_Name:in:A,B)", 1, 200, M(fields="Deal_Name")]
    )
    assert r[0] == M(Deal_Name="B", id=r[0]["id"])
    r = crm.crm_task("searchrecords", ["Deals", "(Deal_Name:in:A,B)", 1, 200, "ignored"])
    assert len(r) == 2


def test_search_errors(crm: MemoryCrm) -> None:
    r = crm.crm_task("searchrecords", ["Deals", "(Stage:equals:Won"])
    assert r["code"] == "INVALID_QUERY" and r["message"] == "invalid query formed"
    assert r["details"] == M(reason="Missing ')' to close the condition at column 1 at column 18")
    r = crm.crm_task("searchrecords", ["Deals", "(Amount:starts_with:5)"])
    assert r["details"] == M(
        api_name="Amount", operator="starts_with", reason="operator not supported for currency"
    )
    many = "(" + "and".join(f"(Deal_Name:equals:{i})" for i in range(11)) + ")"
    r = crm.crm_task("searchrecords", ["Deals", many])
    assert r == M(
        code="LIMIT_EXCEEDED", details=M(limit=10), message="limit exceeded", status="error"
    )


def test_search_lookup_by_id_owner_and_dates(crm: MemoryCrm, acme: str) -> None:
    crm.seed(
        "Deals",
        [
            {
                "Deal_Name": "A",
                "Stage": "S",
                "Account_Name": acme,
                "Closing_Date": "2026-03-31",
                "Owner": ANA.id,
            }
        ],
    )
    for crit in [
        f"(Account_Name.id:equals:{acme})",
        "(Owner:equals:ana@example.com)",
        "(Closing_Date:between:2026-03-01,2026-03-31)",
        "(Created_Time:greater_equal:2026-02-05T14:03:09+00:00)",
        f"(id:equals:{crm.records('Deals')[0]['id']})",
    ]:
        assert len(crm.crm_task("searchrecords", ["Deals", crit])) == 1, crit


# --------------------------------------------------------------------------- writing


def test_create_record_details_and_change_log(crm: MemoryCrm) -> None:
    d = create(crm, "Leads", Last_Name="Boyle", Email="p.boyle@example.com")
    assert d == M(
        Modified_Time=ISO,
        Modified_By=M(name="Bob Sales", id=BOB.id),
        Created_Time=ISO,
        id=d["id"],
        Created_By=M(name="Bob Sales", id=BOB.id),
    )
    assert crm.changes == [Change("created", "Leads", d["id"], False)]
    lead = crm.crm_task("getrecordbyid", ["Leads", d["id"]])
    assert lead["Full_Name"] == "Boyle" and lead["$converted"] is False


def test_ids_increase(crm: MemoryCrm) -> None:
    a = create(crm, "Accounts", Account_Name="a")["id"]
    b = create(crm, "Contacts", Last_Name="b")["id"]
    assert int(b) > int(a)


def test_create_mandatory_missing(crm: MemoryCrm) -> None:
    r = crm.crm_task("createrecord", ["Deals", M(Deal_Name="x")])
    assert r == M(
        code="MANDATORY_NOT_FOUND",
        details=M(api_name="Stage", json_path="$.data[0].Stage"),
        message="required field not found",
        status="error",
    )
    assert crm.records("Deals") == []


def test_create_alias_and_potentials(crm: MemoryCrm) -> None:
    d = crm.crm_task("create", ["potentials", M(Deal_Name="x", Stage="Closed Won")])
    assert crm.get("Deals", d["id"])["Stage"] == "Closed Won"
    u = crm.crm_task("update", ["Deals", d["id"], M(Stage="Closed Lost")])
    assert u["id"] == d["id"]
    assert crm.crm_task("v8.getrecordbyid", ["Deals", d["id"]])["Stage"] == "Closed Lost"


def test_field_keys_case_insensitive_unknown_and_system_ignored(crm: MemoryCrm) -> None:
    d = create(
        crm,
        "Accounts",
        account_name="Acme",
        BILLING_CITY="Paris",
        Custom_Thing="x",
        id="1",
        Created_Time="2020-01-01",
    )
    r = crm.get("Accounts", d["id"])
    assert r is not None
    assert r["Account_Name"] == "Acme" and r["Billing_City"] == "Paris"
    assert "Custom_Thing" not in r and r["Created_Time"] == ISO and r["id"] == d["id"]


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        (
            "Closing_Date",
            DateTime(dt.datetime(2026, 3, 31, tzinfo=dt.UTC), date_only=True),
            "2026-03-31",
        ),
        ("Closing_Date", "31-Mar-2026", "2026-03-31"),
        ("Closing_Date", "2026-03-31", "2026-03-31"),
        ("Closing_Date", "03/31/2026", "2026-03-31"),
        ("Closing_Date", "Mar 31,2026", "2026-03-31"),
        ("Amount", "12.5", 12.5),
        ("Amount", 7, 7.0),
        ("Amount", 1.005, 1.0),
        ("Probability", "40", 40),
        ("Probability", 40.0, 40),
        ("Description", 42, "42"),
        ("Description", True, "true"),
        ("Description", "", None),
        ("Stage", "Not In The List", "Not In The List"),
    ],
)
def test_write_conversions(crm: MemoryCrm, field: str, value: Any, stored: Any) -> None:
    d = create(crm, "Deals", **{"Deal_Name": "x", "Stage": "Qualification", field: value})
    r = crm.get("Deals", d["id"])
    assert r is not None
    assert r[field] == stored and type(r[field]) is type(stored)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("Probability", 12.5, "integer"),
        ("Probability", 101, "integer"),
        ("Probability", "abc", "integer"),
        ("Amount", "12,5", "currency"),
        ("Amount", True, "currency"),
        ("Closing_Date", "31-02-2026x", "date"),
        ("Closing_Date", 5, "date"),
        ("Account_Name", "4150868000000999001", "lookup"),
        ("Account_Name", L(), "lookup"),
        ("Description", L("a"), "textarea"),
    ],
)
def test_write_invalid_data(crm: MemoryCrm, field: str, value: Any, expected: str) -> None:
    r = crm.crm_task("createrecord", ["Deals", M(Deal_Name="x", Stage="S", **{field: value})])
    assert r == M(
        code="INVALID_DATA",
        details=M(api_name=field, expected_data_type=expected, json_path=f"$.data[0].{field}"),
        message="invalid data",
        status="error",
    )


def test_datetime_boolean_email_multiselect_bigint(crm: MemoryCrm) -> None:
    crm.add_field("Leads", FieldDef("Interests", "multiselectpicklist"))
    crm.add_field("Leads", FieldDef("Last_Contact", "datetime"))
    d = create(
        crm,
        "Leads",
        Last_Name="B",
        Email_Opt_Out="TRUE",
        Email=" a@b.co ",
        Interests="Email; Phone",
        Last_Contact=DateTime(
            dt.datetime(2026, 2, 5, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        ),
    )
    r = crm.get("Leads", d["id"])
    assert r is not None
    assert r["Email_Opt_Out"] is True and r["Email"] == "a@b.co"
    assert r["Interests"] == L("Email", "Phone")
    assert r["Last_Contact"] == "2026-02-05T14:00:00+00:00"
    crm.crm_task(
        "updaterecord",
        ["Leads", d["id"], M(Interests=L("SMS"), **{"$append_values": M(Interests=True)})],
    )
    assert crm.get("Leads", d["id"])["Interests"] == L("Email", "Phone", "SMS")
    bad = crm.crm_task("createrecord", ["Leads", M(Last_Name="x", Email="not-an-email")])
    assert bad["details"]["api_name"] == "Email"
    a = create(crm, "Accounts", Account_Name="A", Account_Number="0012345600012")
    assert crm.get("Accounts", a["id"])["Account_Number"] == "0012345600012"


def test_owner_write(crm: MemoryCrm) -> None:
    d = create(crm, "Accounts", Account_Name="A", Owner=M(id=ANA.id))
    assert crm.get("Accounts", d["id"])["Owner"]["email"] == "ana@example.com"
    r = crm.crm_task("createrecord", ["Accounts", M(Account_Name="A", Owner="99")])
    assert r["details"]["api_name"] == "Owner"


def test_lookup_write_forms(crm: MemoryCrm, acme: str) -> None:
    for v in (acme, int(acme), M(id=acme), M(id=int(acme), name="whatever")):
        d = create(crm, "Contacts", Last_Name="x", Account_Name=v)
        assert crm.get("Contacts", d["id"])["Account_Name"] == M(name="Acme Ltd", id=acme)


def test_update_record(crm: MemoryCrm, acme: str) -> None:
    later = dt.datetime(2026, 2, 6, 9, 0, 0, tzinfo=dt.UTC)
    crm.clock = lambda: later
    r = crm.crm_task("updaterecord", ["Accounts", acme, M(Phone="123"), M(trigger=L("workflow"))])
    assert r["Modified_Time"] == "2026-02-06T09:00:00+00:00" and r["Created_Time"] == ISO
    assert crm.get("Accounts", acme)["Billing_City"] == "Paris"  # untouched
    assert crm.changes == [Change("updated", "Accounts", acme, True)]
    # no change: succeeds, records nothing
    crm.crm_task("updaterecord", ["Accounts", acme, M(Phone="123")])
    assert len(crm.changes) == 1
    r = crm.crm_task("updaterecord", ["Accounts", "4150868000000999001", M(Phone="1")])
    assert r["code"] == "INVALID_DATA" and r["details"] == M(
        api_name="id", id="4150868000000999001"
    )
    r = crm.crm_task("updaterecord", ["Accounts", acme, M(Account_Name=None)])
    assert r["code"] == "MANDATORY_NOT_FOUND"


@pytest.mark.parametrize(
    ("options", "fires"),
    [
        (None, False),
        (M(), False),
        (M(trigger=L()), False),
        (M(trigger=Collection()), False),
        (M(trigger="workflow"), True),
        (M(trigger=L("approval", "Workflow")), True),
        ("connection_name", False),
    ],
)
def test_trigger_option(crm: MemoryCrm, options: Any, fires: bool) -> None:
    args: list[Any] = ["Accounts", M(Account_Name="x")]
    if options is not None:
        args.append(options)
    crm.crm_task("createrecord", args)
    assert crm.changes[-1].workflow is fires


def test_upsert(crm: MemoryCrm) -> None:
    ins = crm.crm_task("upsert", ["Leads", M(Last_Name="Boyle", Email="p@example.com")])
    assert ins["action"] == "insert" and ins["duplicate_field"] is None
    upd = crm.crm_task("upsert", ["Leads", M(Last_Name="Boyle2", Email="P@example.com")])
    assert upd["action"] == "update" and upd["duplicate_field"] == "Email"
    assert upd["id"] == ins["id"]
    assert crm.get("Leads", ins["id"])["Last_Name"] == "Boyle2"
    by_id = crm.crm_task("upsert", ["Leads", M(id=ins["id"], Company="Zylker")])
    assert by_id["action"] == "update" and by_id["duplicate_field"] is None
    custom = crm.crm_task(
        "upsert",
        ["Leads", M(Last_Name="Boyle2", Company="Other"), M(duplicate_check_fields=L("Last_Name"))],
    )
    assert custom["action"] == "update" and custom["duplicate_field"] == "Last_Name"
    bad = crm.crm_task("upsert", ["Leads", M(id="4150868000000999001", Last_Name="x")])
    assert bad["code"] == "INVALID_DATA"
    no_email = crm.crm_task("upsert", ["Leads", M(Last_Name="New")])
    assert no_email["action"] == "insert"


def test_duplicate_data_on_unique_field(crm: MemoryCrm) -> None:
    crm.add_field("Contacts", FieldDef("Customer_No", "text", unique=True))
    first = create(crm, "Contacts", Last_Name="a", Customer_No="C1")
    r = crm.crm_task("createrecord", ["Contacts", M(Last_Name="b", Customer_No="c1")])
    assert r["code"] == "DUPLICATE_DATA" and r["message"] == "duplicate data"
    assert r["details"]["duplicate_record"]["id"] == first["id"]
    assert r["details"]["duplicate_record"]["module"]["api_name"] == "Contacts"


def test_bulk_create(crm: MemoryCrm) -> None:
    r = crm.crm_task(
        "bulkcreate",
        ["Deals", L(M(Deal_Name="a", Stage="S"), M(Deal_Name="b")), M(trigger=L("workflow"))],
    )
    assert type(r) is DelugeList and len(r) == 2
    assert r[0]["code"] == "SUCCESS" and r[0]["message"] == "record added"
    assert r[0]["status"] == "success" and type(r[0]["details"]["id"]) is str
    assert r[1] == M(
        code="MANDATORY_NOT_FOUND",
        details=M(api_name="Stage", json_path="$.data[1].Stage"),
        message="required field not found",
        status="error",
    )
    assert len(crm.records("Deals")) == 1
    too_many = crm.crm_task(
        "bulkcreate", ["Deals", DelugeList(M(Deal_Name="a") for _ in range(101))]
    )
    assert too_many == M(
        code="LIMIT_EXCEEDED", details=M(limit=100), message="limit exceeded", status="error"
    )
    with pytest.raises(DelugeRuntimeError):
        crm.crm_task("bulkcreate", ["Deals", M()])


def test_bulk_update(crm: MemoryCrm, acme: str) -> None:
    r = crm.crm_task(
        "bulkupdate",
        ["Accounts", L(M(id=acme, Phone="1"), M(Phone="2"), M(id="4150868000000999001"))],
    )
    assert r[0]["message"] == "record updated" and r[0]["details"]["id"] == acme
    assert r[1]["code"] == "MANDATORY_NOT_FOUND"
    assert r[1]["details"] == M(api_name="id", json_path="$.data[1].id")
    assert r[2] == M(
        code="INVALID_DATA",
        details=M(api_name="id", json_path="$.data[2].id"),
        message="the id given seems to be invalid",
        status="error",
    )
    assert crm.get("Accounts", acme)["Phone"] == "1"


def test_validator_blocks_save(crm: MemoryCrm) -> None:
    def validate(module: str, action: str, record: DelugeMap) -> tuple[str, str] | None:
        if module == "Deals" and (record["Amount"] or 0) < 0:
            return ("positive_amount", "Amount must be positive")
        return None

    crm.validator = validate
    r = crm.crm_task("createrecord", ["Deals", M(Deal_Name="x", Stage="S", Amount=-1)])
    assert r == M(
        code="INVALID_DATA",
        details=M(validation_rule="positive_amount"),
        message="Amount must be positive",
        status="error",
    )
    assert crm.records("Deals") == []


# --------------------------------------------------------------------------- relations


def test_related_records(crm: MemoryCrm, acme: str) -> None:
    c = create(crm, "Contacts", Last_Name="Kate", Account_Name=acme)
    d = create(crm, "Deals", Deal_Name="x", Stage="S", Account_Name=acme, Contact_Name=c["id"])
    create(crm, "Deals", Deal_Name="other", Stage="S")
    n = create(crm, "Notes", Note_Content="hello", Parent_Id=d["id"], se_module="Deals")
    t = create(crm, "Tasks", Subject="Call", What_Id=d["id"], **{"$se_module": "Deals"})
    contacts = crm.crm_task("getrelatedrecords", ["Contacts", "Accounts", acme])
    assert [r["id"] for r in contacts] == [c["id"]]
    deals = crm.crm_task("getrelatedrecords", ["deals", "Accounts", int(acme)])
    assert [r["id"] for r in deals] == [d["id"]]
    assert [r["id"] for r in crm.crm_task("getrelatedrecords", ["Deals", "Contacts", c["id"]])] == [
        d["id"]
    ]
    notes = crm.crm_task("getrelatedrecords", ["Notes", "Deals", d["id"]])
    assert [r["id"] for r in notes] == [n["id"]]
    assert notes[0]["Parent_Id"]["name"] == "x" and notes[0]["$se_module"] == "Deals"
    assert notes[0]["Parent_Id"]["module"]["api_name"] == "Deals"
    tasks = crm.crm_task("getrelatedrecords", ["Tasks", "Deals", d["id"]])
    assert [r["id"] for r in tasks] == [t["id"]]
    assert tasks[0]["What_Id"] == M(name="x", id=d["id"]) and tasks[0]["$se_module"] == "Deals"
    fields = crm.crm_task(
        "getrelatedrecords", ["Contacts", "Accounts", acme, 1, 200, M(fields="Last_Name")]
    )
    assert fields == L(M(Last_Name="Kate", id=c["id"]))
    assert crm.crm_task("getrelatedrecords", ["Contacts", "Accounts", "4150868000000999001"]) == L()
    bad = crm.crm_task("getrelatedrecords", ["Nope", "Accounts", acme])
    assert bad["code"] == "INVALID_DATA"
    assert bad["message"] == "the relation name given seems to be invalid"


def test_note_parent_errors(crm: MemoryCrm, acme: str) -> None:
    r = crm.crm_task(
        "createrecord", ["Notes", M(Note_Content="x", Parent_Id=acme, se_module="Deals")]
    )
    assert r["code"] == "INVALID_DATA" and r["details"]["api_name"] == "Parent_Id"
    r = crm.crm_task("createrecord", ["Notes", M(Note_Content="x")])
    assert r["code"] == "MANDATORY_NOT_FOUND" and r["details"]["api_name"] == "Parent_Id"
    ok = crm.crm_task("createrecord", ["Notes", M(Note_Content="x", Parent_Id=M(id=acme))])
    assert crm.get("Notes", ok["id"])["$se_module"] == "Accounts"


def test_update_related_record(crm: MemoryCrm, acme: str) -> None:
    c = create(crm, "Contacts", Last_Name="Kate")
    r = crm.crm_task("updaterelatedrecord", ["Contacts", c["id"], "Accounts", acme, M(Title="CEO")])
    assert r == M(code="SUCCESS", details=M(id=c["id"]), message="relation added", status="success")
    rec = crm.get("Contacts", c["id"])
    assert rec["Account_Name"]["id"] == acme and rec["Title"] == "CEO"
    t = create(crm, "Tasks", Subject="x")
    crm.crm_task("updaterelatedrecord", ["Tasks", t["id"], "Contacts", c["id"]])
    assert crm.get("Tasks", t["id"])["Who_Id"] == M(name="Kate", id=c["id"])
    r = crm.crm_task("updaterelatedrecord", ["Notes", c["id"], "Accounts", acme])
    assert r == M(code="NOT_SUPPORTED", details=M(), message="not supported", status="error")
    r = crm.crm_task("updaterelatedrecord", ["Contacts", "4150868000000999001", "Accounts", acme])
    assert r["code"] == "INVALID_DATA"


def test_attach_file(crm: MemoryCrm, acme: str) -> None:
    r = crm.crm_task("attachfile", ["Accounts", acme, File("a.txt", b"hello", "text/plain")])
    assert r["code"] == "SUCCESS" and r["message"] == "attachment uploaded"
    assert set(r["details"]) == {"Modified_Time", "Modified_By", "Created_Time", "id", "Created_By"}
    atts = crm.crm_task("getrelatedrecords", ["Attachments", "Accounts", acme])
    assert atts[0]["File_Name"] == "a.txt" and atts[0]["Size"] == "5"
    assert crm.attachments(acme)[0]["content"] == b"hello"
    with pytest.raises(DelugeRuntimeError, match="must be FILE, found TEXT"):
        crm.crm_task("attachfile", ["Accounts", acme, "a.txt"])
    assert crm.crm_task("attachfile", ["Accounts", "4150868000000999001", File("a", b"")])[
        "code"
    ] == ("INVALID_DATA")


# --------------------------------------------------------------------------- other tasks


def test_convert_lead(crm: MemoryCrm) -> None:
    lead = crm.seed(
        "Leads",
        [
            {
                "First_Name": "Patricia",
                "Last_Name": "Boyle",
                "Email": "p@example.com",
                "Company": "Zylker",
                "City": "Lyon",
                "Designation": "CTO",
            }
        ],
    )[0]
    r = crm.crm_task("convertlead", [lead, M(Deals=M(Deal_Name="New deal", Stage="Qualification"))])
    assert set(r) == {"Contacts", "Accounts", "Deals"}
    contact = crm.get("Contacts", r["Contacts"])
    assert contact["Full_Name"] == "Patricia Boyle" and contact["Mailing_City"] == "Lyon"
    assert contact["Title"] == "CTO" and contact["Account_Name"]["id"] == r["Accounts"]
    account = crm.get("Accounts", r["Accounts"])
    assert account["Account_Name"] == "Zylker" and account["Billing_City"] == "Lyon"
    deal = crm.get("Deals", r["Deals"])
    assert (
        deal["Contact_Name"]["id"] == r["Contacts"] and deal["Account_Name"]["id"] == r["Accounts"]
    )
    assert crm.crm_task("getrecordbyid", ["Leads", lead])["$converted"] is True
    assert crm.crm_task("getrecords", ["Leads"]) == L()
    assert len(crm.crm_task("getrecords", ["Leads", 1, 200, M(converted="true")])) == 1
    again = crm.crm_task("convertlead", [lead, M()])
    assert (
        again["code"] == "INVALID_DATA"
        and again["message"] == "the lead has already been converted"
    )


def test_convert_lead_existing_account_and_errors(crm: MemoryCrm, acme: str) -> None:
    lead = crm.seed("Leads", [{"Last_Name": "B"}, {"Last_Name": "C", "Company": "Q"}])
    r = crm.crm_task("convertlead", [lead[0], M(Accounts=acme, assign_to=ANA.id)])
    assert r["Accounts"] == acme and r["Deals"] is None
    assert crm.get("Contacts", r["Contacts"])["Owner"]["id"] == ANA.id
    bad = crm.crm_task("convertlead", [lead[1], M(Deals=M(Deal_Name="x"))])
    assert bad["code"] == "MANDATORY_NOT_FOUND"
    assert crm.records("Accounts") == [crm.get("Accounts", acme)]  # nothing created
    bad = crm.crm_task("convertlead", [lead[1], M(Accounts="4150868000000999001")])
    assert bad["code"] == "INVALID_DATA"
    assert crm.crm_task("convertlead", ["4150868000000999001", M()])["code"] == "INVALID_DATA"
    no_company = crm.seed("Leads", [{"Last_Name": "D"}])[0]
    assert crm.crm_task("convertlead", [no_company, Collection()])["Accounts"] is None


def test_org_variables_and_connector(crm: MemoryCrm) -> None:
    assert crm.crm_task("getorgvariable", ["Score"]) == "10"
    assert crm.crm_task("getorgvariable", ["score", "conn"]) == "10"
    assert crm.crm_task("getorgvariable", ["Missing"]) is None
    r = crm.crm_task("invokeconnector", ["crm.set", M(apiname="Score", value=50)])
    assert r == M(
        status_code="200",
        response='{"Score":"50","message":"New value updated successfully."}',
    )
    assert crm.crm_task("getorgvariable", ["Score"]) == "50"
    r = crm.crm_task("invokeconnector", ["crm.get", M(apiname="Score")])
    assert r == M(status_code="200", response='{"Score":"50"}')
    assert crm.crm_task("invokeconnector", ["crm.zapikey", M()]) == M(
        status_code="200", response="zk-123"
    )
    r = crm.crm_task("invokeconnector", ["crm.other", M()])
    assert r == M(code="NOT_SUPPORTED", details=M(), message="not supported", status="error")


def test_raise_signal(crm: MemoryCrm) -> None:
    assert crm.crm_task("raisesignal", [M(signal="x")])["code"] == "NOT_SUPPORTED"


def test_seed(crm: MemoryCrm) -> None:
    ids = crm.seed(
        "Deals",
        [
            {
                "id": "4150868000000402001",
                "Deal_Name": "Renewal 2026",
                "Stage": "Qualification",
                "Closing_Date": dt.date(2026, 3, 31),
                "Created_Time": "2026-01-01T10:00:00+00:00",
                "Owner": ANA.id,
            }
        ],
    )
    assert ids == ["4150868000000402001"]
    r = crm.crm_task("getrecordbyid", ["Deals", 4150868000000402001])
    assert r["Closing_Date"] == "2026-03-31" and r["Created_Time"] == "2026-01-01T10:00:00+00:00"
    assert r["Owner"]["id"] == ANA.id
    assert crm.changes == []
    with pytest.raises(ValueError, match="MANDATORY_NOT_FOUND"):
        crm.seed("Deals", [{"Deal_Name": "x"}])


def test_custom_module(crm: MemoryCrm) -> None:
    crm.add_module("Projects")
    crm.add_field("Projects", FieldDef("Budget", "currency"))
    p = create(crm, "projects", Name="Apollo", Budget="10")
    assert crm.get("Projects", p["id"])["Budget"] == 10.0


def test_org_time_zone() -> None:
    from zoneinfo import ZoneInfo

    crm = MemoryCrm(BOB, ANA, lambda: NOW, tz=ZoneInfo("Asia/Kolkata"))
    d = crm.crm_task("createrecord", ["Accounts", M(Account_Name="a")])
    assert d["Created_Time"] == "2026-02-05T19:33:09+05:30"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("04-Jul-2006", dt.datetime(2006, 7, 4, tzinfo=dt.UTC)),
        ("4-Jul-2006 13:05", dt.datetime(2006, 7, 4, 13, 5, tzinfo=dt.UTC)),
        ("2006-07-04T10:00:00Z", dt.datetime(2006, 7, 4, 10, tzinfo=dt.UTC)),
        ("Jul 04,2006", dt.datetime(2006, 7, 4, tzinfo=dt.UTC)),
        ("15 August 1947", dt.datetime(1947, 8, 15, tzinfo=dt.UTC)),
        ("07/04/2006", dt.datetime(2006, 7, 4, tzinfo=dt.UTC)),
        ("13/04/2006", dt.datetime(2006, 4, 13, tzinfo=dt.UTC)),
        ("31-Feb-2026", None),
        ("tomorrow", None),
    ],
)
def test_parse_date_text(text: str, expected: dt.datetime | None) -> None:
    assert parse_date_text(text, dt.UTC) == expected


def test_seed_rejects_an_existing_id(crm: MemoryCrm, acme: str) -> None:
    with pytest.raises(ValueError, match="already exists"):
        crm.seed("Contacts", [{"id": acme, "Last_Name": "x"}])
