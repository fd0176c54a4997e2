"""``zoho.crm.*`` on the real store through the live host (deluge-language.md §12), on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from floodway.crm.testing import admin_actor, crm  # noqa: F401  (fixture)
from floodway.deluge.errors import DelugeRuntimeError
from floodway.deluge.values import Collection, DateTime, DelugeList, DelugeMap, File, to_json_text
from floodway.functions.live_host import COLLECTOR, LiveHost
from floodway.functions.service import Functions

ISO_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}"
MISSING = "4150868000000999001"


def M(**kw: Any) -> DelugeMap:
    return DelugeMap(kw)


def L(*items: Any) -> DelugeList:
    return DelugeList(items)


@pytest.fixture(scope="module")
def fx(crm: Any) -> Functions:  # noqa: F811
    return Functions(crm)


@pytest.fixture
def host(fx: Functions) -> Iterator[LiveHost]:
    admin = fx.executor.user(None)
    h = LiveHost(fx, admin, admin)
    token = COLLECTOR.set(h.changes)
    yield h
    COLLECTOR.reset(token)


def task(host: LiveHost, name: str, *args: Any) -> Any:
    return host.crm_task(name, list(args))


def create(host: LiveHost, module: str, **fields: Any) -> DelugeMap:
    out = task(host, "createrecord", module, DelugeMap(fields))
    assert out.get("id") is not None, out
    return out


def uniq(prefix: str = "x") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture
def acme(host: LiveHost) -> str:
    return str(create(host, "Accounts", Account_Name=uniq("Acme"), Billing_City="Paris")["id"])


def get(host: LiveHost, module: str, rid: str) -> DelugeMap:
    r = task(host, "getrecordbyid", module, rid)
    assert r.get("id") == rid, r
    return r


# --------------------------------------------------------------------------- reading


def test_record_shape_of_get_record_by_id(host: LiveHost, acme: str) -> None:
    d = create(
        host,
        "Deals",
        Deal_Name="Renewal 2026",
        Stage="Qualification",
        Amount=12500,
        Probability=20,
        Closing_Date="2026-03-31",
        Account_Name=acme,
    )
    r = get(host, "Deals", d["id"])
    admin = host.user
    assert r["Owner"] == M(name=admin.name, id=admin.id, email=admin.email)
    assert r["Deal_Name"] == "Renewal 2026"
    assert r["Amount"] == 12500.0 and type(r["Amount"]) is float
    assert r["Probability"] == 20 and type(r["Probability"]) is int
    assert r["Closing_Date"] == "2026-03-31"
    assert r["Account_Name"]["id"] == acme and type(r["Account_Name"]) is DelugeMap
    assert r["Contact_Name"] is None and r["Description"] is None
    assert r["Tag"] == L() and type(r["Tag"]) is DelugeList
    assert r["$editable"] is True and r["$currency_symbol"] == "$"
    assert r["Created_By"]["email"] == admin.email
    assert type(r["id"]) is str and len(r["id"]) == 19
    assert next(iter(r)) == "Owner" and list(r)[-1] == "id"
    assert re.fullmatch(ISO_RE, r["Created_Time"])
    json.loads(to_json_text(r))  # only Deluge values inside


def test_details_map_of_create(host: LiveHost) -> None:
    d = create(host, "Leads", Last_Name="Boyle", Email="p.boyle@example.com")
    assert list(d) == ["Modified_Time", "Modified_By", "Created_Time", "id", "Created_By"]
    assert d["Created_By"] == M(name=host.user.name, id=host.user.id)
    assert list(host.changes.values())[-1] == {
        "action": "created",
        "module": "Leads",
        "id": d["id"],
        "workflow": False,
    }
    lead = get(host, "Leads", d["id"])
    assert lead["Full_Name"] == "Boyle" and lead["$converted"] is False


def test_get_record_by_id_accepts_number_and_text(host: LiveHost, acme: str) -> None:
    assert task(host, "getrecordbyid", "accounts", int(acme))["id"] == acme
    assert task(host, "getrecordbyid", "Accounts", acme, M(), "crm_conn")["id"] == acme
    assert task(host, "getrecordbyid", "Accounts", acme, "crm_conn")["id"] == acme
    assert task(host, "v8.getRecordById", "Accounts", acme)["id"] == acme


def test_get_record_by_id_fields(host: LiveHost, acme: str) -> None:
    r = task(host, "getrecordbyid", "Accounts", acme, M(fields="account_name,Nope"))
    assert list(r) == ["Account_Name", "id"] and r["id"] == acme


@pytest.mark.parametrize("bad", ["123x", "12a", None, MISSING, 0])
def test_get_record_by_id_invalid(host: LiveHost, bad: Any) -> None:
    r = task(host, "getrecordbyid", "Accounts", bad)
    assert r["code"] == "INVALID_DATA"
    assert r["message"] == "the id given seems to be invalid"
    assert r["status"] == "error"
    assert r["details"]["api_name"] == "id"
    assert r.get("id") is None
    assert list(r) == ["code", "details", "message", "status"]


def test_invalid_module(host: LiveHost) -> None:
    for name, args in [
        ("getrecordbyid", ["Nope", "1"]),
        ("getrecords", ["Nope"]),
        ("searchrecords", ["Nope", "(a:equals:b)"]),
        ("createrecord", ["Nope", M()]),
    ]:
        assert host.crm_task(name, args) == M(
            code="INVALID_MODULE",
            details=M(),
            message="the module name given seems to be invalid",
            status="error",
        )
    assert host.notes[1].startswith("zoho.crm.getRecords: INVALID_MODULE")


def test_argument_types_raise(host: LiveHost) -> None:
    with pytest.raises(
        DelugeRuntimeError, match=r"Argument 1 of zoho\.crm\.getRecordById must be TEXT, found LIST"
    ):
        task(host, "getrecordbyid", L("Deals"), "1")
    with pytest.raises(DelugeRuntimeError, match="found MAP"):
        task(host, "getrecordbyid", "Deals", M())
    with pytest.raises(DelugeRuntimeError, match="must be MAP"):
        task(host, "createrecord", "Deals", "x")
    with pytest.raises(DelugeRuntimeError, match="must be TEXT"):
        task(host, "searchrecords", "Deals", 5)
    with pytest.raises(DelugeRuntimeError, match="expects 2 to 4 arguments, found 1"):
        task(host, "getrecordbyid", "Deals")
    with pytest.raises(DelugeRuntimeError, match="is not a CRM task"):
        task(host, "explode")


def test_get_records_paging_and_sorting(fx: Functions, host: LiveHost) -> None:
    module = "Pager_" + secrets.token_hex(3)
    fx.crm.metadata.add_module(module)
    for start in (0, 100, 200):
        rows = [{"Name": f"A{i:03d}"} for i in range(start, min(start + 100, 250))]
        fx.crm.records.create(module, rows, actor=admin_actor(fx.crm))
    page1 = task(host, "getrecords", module)
    assert len(page1) == 200 and page1[0]["Name"] == "A249"  # default id descending
    assert len(task(host, "getrecords", module, 2, 200)) == 50
    assert task(host, "getrecords", module, 3, 200) == L()
    assert len(task(host, "getrecords", module, 1, 500)) == 200  # clamped
    asc = task(host, "getrecords", module, 1, 3, M(sort_by="Name", sort_order="asc"))
    assert [r["Name"] for r in asc] == ["A000", "A001", "A002"]
    only = task(host, "getrecords", module, 1, 1, M(fields="Name"))
    assert list(only[0]) == ["Name", "id"] and only[0]["Name"] == "A249"
    unknown_sort = task(host, "getrecords", module, 1, 1, M(sort_by="Nope"))
    assert unknown_sort[0]["Name"] == "A249"


def test_search_records(host: LiveHost, acme: str) -> None:
    tag = uniq("deal")
    other = create(host, "Accounts", Account_Name=uniq("Zylker"))["id"]
    zylker = get(host, "Accounts", other)["Account_Name"]
    rows = L(
        M(Deal_Name=f"{tag}-A", Stage="Closed Won", Amount=6000, Account_Name=acme),
        M(Deal_Name=f"{tag}-B", Stage="Closed Won", Amount=100, Account_Name=other),
        M(Deal_Name=f"{tag}-C", Stage="Qualification", Amount=9000),
    )
    assert all(r["status"] == "success" for r in task(host, "bulkcreate", "Deals", rows))
    crit = (
        f"((Deal_Name:starts_with:{tag})and(Stage:equals:closed won)and(Amount:greater_than:5000))"
    )
    assert [x["Deal_Name"] for x in task(host, "searchrecords", "Deals", crit)] == [f"{tag}-A"]
    r = task(host, "searchrecords", "Potentials", f"(Account_Name:equals:{zylker})")
    assert [x["Deal_Name"] for x in r] == [f"{tag}-B"]
    assert task(host, "searchrecords", "Deals", "(Deal_Name:equals:nothing-here)") == L()
    r = task(host, "searchrecords", "Deals", f"(Deal_Name:in:{tag}-A,{tag}-B)", 1, 1)
    assert len(r) == 1
    r = task(
        host,
        "searchrecords",
        "Deals",
        f"(Deal_Name:in:{tag}-A,{tag}-B)",
        1,
        200,
        M(fields="Deal_Name"),
    )
    assert list(r[0]) == ["Deal_Name", "id"]
    r = task(host, "searchrecords", "Deals", f"(Deal_Name:in:{tag}-A,{tag}-B)", 1, 200, "ignored")
    assert len(r) == 2
    assert task(host, "searchrecords", "Deals", f"(Deal_Name:equals:{tag}-A)", 11, 200) == L()


def test_search_errors(host: LiveHost) -> None:
    r = task(host, "searchrecords", "Deals", "(Stage:equals:Won")
    assert r["code"] == "INVALID_QUERY" and r["message"] == "invalid query formed"
    assert "Missing ')'" in r["details"]["reason"]
    r = task(host, "searchrecords", "Deals", "(Amount:starts_with:5)")
    assert r["details"] == M(
        api_name="Amount", operator="starts_with", reason="operator not supported for currency"
    )
    many = "(" + "and".join(f"(Deal_Name:equals:{i})" for i in range(11)) + ")"
    assert task(host, "searchrecords", "Deals", many) == M(
        code="LIMIT_EXCEEDED", details=M(limit=10), message="limit exceeded", status="error"
    )
    assert task(host, "searchrecords", "Deals", " ")["code"] == "INVALID_QUERY"


def test_search_lookup_by_id_owner_and_dates(host: LiveHost, acme: str) -> None:
    name = uniq("dated")
    d = create(
        host, "Deals", Deal_Name=name, Stage="S", Account_Name=acme, Closing_Date="2026-03-31"
    )
    for crit in [
        f"(Account_Name.id:equals:{acme})",
        f"(Owner:equals:{host.user.email})",
        "(Closing_Date:between:2026-03-01,2026-03-31)",
        f"(id:equals:{d['id']})",
    ]:
        found = task(host, "searchrecords", "Deals", f"((Deal_Name:equals:{name})and{crit})")
        assert len(found) == 1, crit


# --------------------------------------------------------------------------- writing


def test_create_mandatory_missing(host: LiveHost) -> None:
    name = uniq("nostage")
    r = task(host, "createrecord", "Deals", M(Deal_Name=name))
    assert r == M(
        code="MANDATORY_NOT_FOUND",
        details=M(api_name="Stage", json_path="$.data[0].Stage"),
        message="required field not found",
        status="error",
    )
    assert task(host, "searchrecords", "Deals", f"(Deal_Name:equals:{name})") == L()


def test_create_alias_and_potentials(host: LiveHost) -> None:
    d = task(host, "create", "potentials", M(Deal_Name=uniq(), Stage="Closed Won"))
    assert get(host, "Deals", d["id"])["Stage"] == "Closed Won"
    u = task(host, "update", "Deals", d["id"], M(Stage="Closed Lost"))
    assert u["id"] == d["id"]
    assert task(host, "v8.getrecordbyid", "Deals", d["id"])["Stage"] == "Closed Lost"


def test_field_keys_case_insensitive_unknown_and_system_ignored(host: LiveHost) -> None:
    d = create(
        host,
        "Accounts",
        account_name="Acme",
        BILLING_CITY="Paris",
        Custom_Thing="x",
        id="1",
        Created_Time="2020-01-01",
    )
    r = get(host, "Accounts", d["id"])
    assert r["Account_Name"] == "Acme" and r["Billing_City"] == "Paris"
    assert "Custom_Thing" not in r and r["Created_Time"] == d["Created_Time"]


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
        ("Probability", "40.0", 40),
        ("Probability", 40.0, 40),
        ("Description", 42, "42"),
        ("Description", 1.5, "1.5"),
        ("Description", True, "true"),
        ("Description", "", None),
        ("Stage", "Not In The List", "Not In The List"),
    ],
)
def test_write_conversions(host: LiveHost, field: str, value: Any, stored: Any) -> None:
    d = create(host, "Deals", **{"Deal_Name": "x", "Stage": "Qualification", field: value})
    r = get(host, "Deals", d["id"])
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
        ("Account_Name", MISSING, "lookup"),
        ("Account_Name", L(), "lookup"),
        ("Description", L("a"), "textarea"),
        ("Description", File("a.txt", b"x"), "textarea"),
    ],
)
def test_write_invalid_data(host: LiveHost, field: str, value: Any, expected: str) -> None:
    r = task(host, "createrecord", "Deals", M(Deal_Name="x", Stage="S", **{field: value}))
    assert r == M(
        code="INVALID_DATA",
        details=M(api_name=field, expected_data_type=expected, json_path=f"$.data[0].{field}"),
        message="invalid data",
        status="error",
    )


def test_datetime_boolean_email_multiselect_bigint(fx: Functions, host: LiveHost) -> None:
    module = "Prospects_" + secrets.token_hex(3)
    fx.crm.metadata.add_module(module)
    fx.crm.metadata.add_field(module, "Interests", "multiselectpicklist")
    fx.crm.metadata.add_field(module, "Last_Contact", "datetime")
    fx.crm.metadata.add_field(module, "Opt_Out", "boolean")
    fx.crm.metadata.add_field(module, "Mail", "email")
    fx.crm.metadata.add_field(module, "Number", "bigint")
    d = create(
        host,
        module,
        Name="B",
        Opt_Out="TRUE",
        Mail=" a@b.co ",
        Interests="Email; Phone",
        Number="0012345600012",
        Last_Contact=DateTime(
            dt.datetime(2026, 2, 5, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        ),
    )
    r = get(host, module, d["id"])
    assert r["Opt_Out"] is True and r["Mail"] == "a@b.co"
    assert r["Interests"] == L("Email", "Phone")
    assert r["Last_Contact"] == "2026-02-05T14:00:00+00:00"
    assert r["Number"] == "12345600012"
    task(
        host,
        "updaterecord",
        module,
        d["id"],
        M(Interests=L("SMS"), **{"$append_values": M(Interests=True)}),
    )
    assert get(host, module, d["id"])["Interests"] == L("Email", "Phone", "SMS")
    task(host, "updaterecord", module, d["id"], M(Last_Contact="05-Feb-2026 10:30"))
    assert get(host, module, d["id"])["Last_Contact"] == "2026-02-05T10:30:00+00:00"
    bad = task(host, "createrecord", module, M(Name="x", Mail="not-an-email"))
    assert bad["details"]["api_name"] == "Mail"


def test_owner_write(host: LiveHost, fx: Functions) -> None:
    user, _ = fx.crm.users.create(uniq("owner") + "@example.com", last_name="Owner")
    d = create(host, "Accounts", Account_Name="A", Owner=M(id=user.id))
    assert get(host, "Accounts", d["id"])["Owner"]["email"] == user.email
    r = task(host, "createrecord", "Accounts", M(Account_Name="A", Owner="99"))
    assert r["details"]["api_name"] == "Owner"


def test_lookup_write_forms(host: LiveHost, acme: str) -> None:
    for v in (acme, int(acme), M(id=acme), M(id=int(acme), name="whatever")):
        d = create(host, "Contacts", Last_Name="x", Account_Name=v)
        assert get(host, "Contacts", d["id"])["Account_Name"]["id"] == acme


def test_update_record(host: LiveHost, acme: str) -> None:
    r = task(host, "updaterecord", "Accounts", acme, M(Phone="123"), M(trigger=L("workflow")))
    assert r["id"] == acme
    assert get(host, "Accounts", acme)["Billing_City"] == "Paris"  # untouched
    assert list(host.changes.values())[-1] == {
        "action": "updated",
        "module": "Accounts",
        "id": acme,
        "workflow": True,
    }
    n = len(host.changes)
    task(host, "updaterecord", "Accounts", acme, M(Phone="123"))  # no change: no event
    assert len(host.changes) == n
    r = task(host, "updaterecord", "Accounts", MISSING, M(Phone="1"))
    assert r == M(
        code="INVALID_DATA",
        details=M(api_name="id", id=MISSING),
        message="the id given seems to be invalid",
        status="error",
    )
    r = task(host, "updaterecord", "Accounts", acme, M(Account_Name=None))
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
def test_trigger_option(fx: Functions, host: LiveHost, options: Any, fires: bool) -> None:
    seen: list[Any] = []
    unsubscribe = fx.crm.events.subscribe(lambda e, _c: seen.append(e))
    try:
        args: list[Any] = ["Accounts", M(Account_Name="x")]
        if options is not None:
            args.append(options)
        host.crm_task("createrecord", args)
    finally:
        unsubscribe()
    assert [(e.channel, e.workflow) for e in seen] == [("function", fires)]
    assert seen[0].user_id == host.user.id


def test_upsert(host: LiveHost) -> None:
    email = uniq("p") + "@example.com"
    ins = task(host, "upsert", "Leads", M(Last_Name="Boyle", Email=email))
    assert ins["action"] == "insert" and ins["duplicate_field"] is None
    upd = task(host, "upsert", "Leads", M(Last_Name="Boyle2", Email=email.upper()))
    assert upd["action"] == "update" and upd["duplicate_field"] == "Email"
    assert upd["id"] == ins["id"]
    assert get(host, "Leads", ins["id"])["Last_Name"] == "Boyle2"
    by_id = task(host, "upsert", "Leads", M(id=ins["id"], Company="Zylker"))
    assert by_id["action"] == "update" and by_id["duplicate_field"] is None
    last = uniq("Last")
    create(host, "Leads", Last_Name=last)
    custom = task(
        host,
        "upsert",
        "Leads",
        M(Last_Name=last, Company="Other"),
        M(duplicate_check_fields=L("Last_Name")),
    )
    assert custom["action"] == "update" and custom["duplicate_field"] == "Last_Name"
    bad = task(host, "upsert", "Leads", M(id=MISSING, Last_Name="x"))
    assert bad["code"] == "INVALID_DATA" and bad["details"] == M(api_name="id", id=MISSING)
    assert task(host, "upsert", "Leads", M(Last_Name=uniq()))["action"] == "insert"


def test_duplicate_data_on_unique_field(fx: Functions, host: LiveHost) -> None:
    module = "Members_" + secrets.token_hex(3)
    fx.crm.metadata.add_module(module)
    fx.crm.metadata.add_field(module, "Customer_No", "text", unique=True)
    first = create(host, module, Name="a", Customer_No="C1")
    r = task(host, "createrecord", module, M(Name="b", Customer_No="c1"))
    assert r["code"] == "DUPLICATE_DATA" and r["message"] == "duplicate data"
    assert r["details"]["duplicate_record"]["id"] == first["id"]
    assert r["details"]["duplicate_record"]["module"]["api_name"] == module


def test_bulk_create(host: LiveHost) -> None:
    r = task(
        host,
        "bulkcreate",
        "Deals",
        L(M(Deal_Name="a", Stage="S"), M(Deal_Name="b")),
        M(trigger=L("workflow")),
    )
    assert type(r) is DelugeList and len(r) == 2
    assert r[0]["code"] == "SUCCESS" and r[0]["message"] == "record added"
    assert r[0]["status"] == "success" and type(r[0]["details"]["id"]) is str
    assert "$approval_state" not in r[0]["details"]
    assert r[1] == M(
        code="MANDATORY_NOT_FOUND",
        details=M(api_name="Stage", json_path="$.data[1].Stage"),
        message="required field not found",
        status="error",
    )
    too_many = task(host, "bulkcreate", "Deals", DelugeList(M(Deal_Name="a") for _ in range(101)))
    assert too_many == M(
        code="LIMIT_EXCEEDED", details=M(limit=100), message="limit exceeded", status="error"
    )
    assert task(host, "bulkcreate", "Deals", L()) == L()
    with pytest.raises(DelugeRuntimeError):
        task(host, "bulkcreate", "Deals", M())


def test_bulk_update(host: LiveHost, acme: str) -> None:
    r = task(host, "bulkupdate", "Accounts", L(M(id=acme, Phone="1"), M(Phone="2"), M(id=MISSING)))
    assert r[0]["message"] == "record updated" and r[0]["details"]["id"] == acme
    assert r[1]["code"] == "MANDATORY_NOT_FOUND"
    assert r[1]["details"] == M(api_name="id", json_path="$.data[1].id")
    assert r[2] == M(
        code="INVALID_DATA",
        details=M(api_name="id", json_path="$.data[2].id"),
        message="the id given seems to be invalid",
        status="error",
    )
    assert get(host, "Accounts", acme)["Phone"] == "1"


# --------------------------------------------------------------------------- relations


def test_related_records(host: LiveHost, acme: str) -> None:
    c = create(host, "Contacts", Last_Name="Kate", Account_Name=acme)
    d = create(host, "Deals", Deal_Name="x", Stage="S", Account_Name=acme, Contact_Name=c["id"])
    create(host, "Deals", Deal_Name="other", Stage="S")
    n = create(host, "Notes", Note_Content="hello", Parent_Id=d["id"], se_module="Deals")
    t = create(host, "Tasks", Subject="Call", What_Id=d["id"], **{"$se_module": "Deals"})
    contacts = task(host, "getrelatedrecords", "Contacts", "Accounts", acme)
    assert [r["id"] for r in contacts] == [c["id"]]
    deals = task(host, "getrelatedrecords", "deals", "Accounts", int(acme))
    assert [r["id"] for r in deals] == [d["id"]]
    assert [r["id"] for r in task(host, "getrelatedrecords", "Deals", "Contacts", c["id"])] == [
        d["id"]
    ]
    notes = task(host, "getrelatedrecords", "Notes", "Deals", d["id"])
    assert [r["id"] for r in notes] == [n["id"]]
    assert notes[0]["Parent_Id"]["name"] == "x" and notes[0]["$se_module"] == "Deals"
    assert notes[0]["Parent_Id"]["module"]["api_name"] == "Deals"
    tasks = task(host, "getrelatedrecords", "Tasks", "Deals", d["id"])
    assert [r["id"] for r in tasks] == [t["id"]]
    assert tasks[0]["What_Id"] == M(name="x", id=d["id"]) and tasks[0]["$se_module"] == "Deals"
    fields = task(
        host, "getrelatedrecords", "Contacts", "Accounts", acme, 1, 200, M(fields="Last_Name")
    )
    assert list(fields[0]) == ["Last_Name", "id"]
    assert task(host, "getrelatedrecords", "Contacts", "Accounts", MISSING) == L()
    bad = task(host, "getrelatedrecords", "Nope", "Accounts", acme)
    assert bad["code"] == "INVALID_DATA"
    assert bad["message"] == "the relation name given seems to be invalid"


def test_note_parent_errors(host: LiveHost, acme: str) -> None:
    r = task(host, "createrecord", "Notes", M(Note_Content="x", Parent_Id=acme, se_module="Deals"))
    assert r["code"] == "INVALID_DATA" and r["details"]["api_name"] == "Parent_Id"
    r = task(host, "createrecord", "Notes", M(Note_Content="x"))
    assert r["code"] == "MANDATORY_NOT_FOUND" and r["details"]["api_name"] == "Parent_Id"
    ok = task(host, "createrecord", "Notes", M(Note_Content="x", Parent_Id=M(id=acme)))
    assert get(host, "Notes", ok["id"])["$se_module"] == "Accounts"


def test_update_related_record(host: LiveHost, acme: str) -> None:
    c = create(host, "Contacts", Last_Name="Kate")
    r = task(host, "updaterelatedrecord", "Contacts", c["id"], "Accounts", acme, M(Title="CEO"))
    assert r == M(code="SUCCESS", details=M(id=c["id"]), message="relation added", status="success")
    rec = get(host, "Contacts", c["id"])
    assert rec["Account_Name"]["id"] == acme and rec["Title"] == "CEO"
    t = create(host, "Tasks", Subject="x")
    task(host, "updaterelatedrecord", "Tasks", t["id"], "Contacts", c["id"])
    assert get(host, "Tasks", t["id"])["Who_Id"] == M(name="Kate", id=c["id"])
    r = task(host, "updaterelatedrecord", "Notes", c["id"], "Accounts", acme)
    assert r == M(code="NOT_SUPPORTED", details=M(), message="not supported", status="error")
    r = task(host, "updaterelatedrecord", "Contacts", MISSING, "Accounts", acme)
    assert r["code"] == "INVALID_DATA" and r["details"]["id"] == MISSING
    r = task(host, "updaterelatedrecord", "Contacts", c["id"], "Accounts", MISSING)
    assert r["code"] == "INVALID_DATA" and r["details"]["id"] == MISSING


def test_attach_file(fx: Functions, host: LiveHost, acme: str) -> None:
    r = task(host, "attachfile", "Accounts", acme, File("a.txt", b"hello", "text/plain"))
    assert r["code"] == "SUCCESS" and r["message"] == "attachment uploaded"
    assert set(r["details"]) == {"Modified_Time", "Modified_By", "Created_Time", "id", "Created_By"}
    atts = task(host, "getrelatedrecords", "Attachments", "Accounts", acme)
    assert atts[0]["File_Name"] == "a.txt" and atts[0]["Size"] == "5"
    assert atts[0]["Parent_Id"]["id"] == acme and atts[0]["$se_module"] == "Accounts"
    assert fx.attachments.content(atts[0]["id"]) == b"hello"
    assert list(host.changes.values())[-1]["action"] == "attached"
    with pytest.raises(DelugeRuntimeError, match="must be FILE, found TEXT"):
        task(host, "attachfile", "Accounts", acme, "a.txt")
    assert task(host, "attachfile", "Accounts", MISSING, File("a", b""))["code"] == "INVALID_DATA"
    # attachments go with their record
    fx.crm.records.delete("Accounts", [acme], actor=admin_actor(fx.crm))
    assert fx.attachments.list(acme) == []


# --------------------------------------------------------------------------- other tasks


def test_convert_lead(host: LiveHost) -> None:
    company = uniq("Zylker")
    lead = create(
        host,
        "Leads",
        First_Name="Patricia",
        Last_Name="Boyle",
        Email=uniq("p") + "@example.com",
        Company=company,
        City="Lyon",
        Designation="CTO",
    )["id"]
    r = task(host, "convertlead", lead, M(Deals=M(Deal_Name="New deal", Stage="Qualification")))
    assert set(r) == {"Contacts", "Accounts", "Deals"}
    contact = get(host, "Contacts", r["Contacts"])
    assert contact["Full_Name"] == "Patricia Boyle" and contact["Mailing_City"] == "Lyon"
    assert contact["Title"] == "CTO" and contact["Account_Name"]["id"] == r["Accounts"]
    account = get(host, "Accounts", r["Accounts"])
    assert account["Account_Name"] == company and account["Billing_City"] == "Lyon"
    deal = get(host, "Deals", r["Deals"])
    assert deal["Contact_Name"]["id"] == r["Contacts"]
    assert deal["Account_Name"]["id"] == r["Accounts"]
    assert task(host, "getrecordbyid", "Leads", lead)["$converted"] is True
    crit = "(Last_Name:equals:Boyle)"
    assert lead not in [x["id"] for x in task(host, "searchrecords", "Leads", crit)]
    conv = task(host, "searchrecords", "Leads", crit, 1, 200, M(converted="true"))
    assert lead in [x["id"] for x in conv]
    actions = [c["action"] for c in host.changes.values()]
    assert actions[-4:] == ["created", "created", "created", "converted"]
    again = task(host, "convertlead", lead, M())
    assert again["code"] == "INVALID_DATA"
    assert again["message"] == "the lead has already been converted"


def test_convert_lead_existing_account_and_errors(fx: Functions, host: LiveHost, acme: str) -> None:
    user, _ = fx.crm.users.create(uniq("rep") + "@example.com", last_name="Rep")
    b = create(host, "Leads", Last_Name="B")["id"]
    company = uniq("Q")
    c = create(host, "Leads", Last_Name="C", Company=company)["id"]
    r = task(host, "convertlead", b, M(Accounts=acme, assign_to=user.id))
    assert r["Accounts"] == acme and r["Deals"] is None
    assert get(host, "Contacts", r["Contacts"])["Owner"]["id"] == user.id
    bad = task(host, "convertlead", c, M(Deals=M(Deal_Name="x")))
    assert bad["code"] == "MANDATORY_NOT_FOUND"
    assert task(host, "searchrecords", "Accounts", f"(Account_Name:equals:{company})") == L()
    assert task(host, "getrecordbyid", "Leads", c)["$converted"] is False  # nothing half-applied
    bad = task(host, "convertlead", c, M(Accounts=MISSING))
    assert bad["code"] == "INVALID_DATA"
    assert task(host, "convertlead", MISSING, M())["code"] == "INVALID_DATA"
    bad = task(host, "convertlead", c, M(assign_to="99"))
    assert bad["details"]["api_name"] == "assign_to"
    no_company = create(host, "Leads", Last_Name="D")["id"]
    assert task(host, "convertlead", no_company, Collection())["Accounts"] is None


def test_org_variables_and_connector(fx: Functions, host: LiveHost) -> None:
    fx.variables.set("Score", "10")
    fx.zapikey = lambda: "zk-123"
    try:
        assert task(host, "getorgvariable", "Score") == "10"
        assert task(host, "getorgvariable", "score", "conn") == "10"
        assert task(host, "getorgvariable", "Missing") is None
        r = task(host, "invokeconnector", "crm.set", M(apiname="Score", value=50))
        assert r == M(
            status_code="200",
            response='{"Score":"50","message":"New value updated successfully."}',
        )
        assert task(host, "getorgvariable", "Score") == "50"
        r = task(host, "invokeconnector", "crm.get", M(apiname="Score"))
        assert r == M(status_code="200", response='{"Score":"50"}')
        assert task(host, "invokeconnector", "crm.zapikey", M()) == M(
            status_code="200", response="zk-123"
        )
        r = task(host, "invokeconnector", "crm.other", M())
        assert r == M(code="NOT_SUPPORTED", details=M(), message="not supported", status="error")
    finally:
        fx.zapikey = None


def test_raise_signal(host: LiveHost) -> None:
    assert task(host, "raisesignal", M(signal="x"))["code"] == "NOT_SUPPORTED"


def test_tasks_from_a_script(fx: Functions) -> None:
    """The same tasks from Deluge: a script's writes are committed as they happen."""
    name = uniq("scripted")
    fx.registry.create(
        f"""string standalone.{name.replace("-", "_")}()
{{
    acc = zoho.crm.createRecord("Accounts", {{"Account_Name": "{name}"}});
    upd = zoho.crm.updateRecord("Accounts", acc.get("id"), {{"Phone": "42"}});
    back = zoho.crm.getRecordById("Accounts", acc.get("id"));
    missing = zoho.crm.getRecordById("Accounts", "{MISSING}");
    if (missing.get("id") == null)
    {{
        info "not there";
    }}
    throw "stop after " + back.get("Phone");
}}""",
        publish=True,
    )
    result = fx.run(name.replace("-", "_"))
    assert result.status == "failure" and result.error is not None
    assert result.error["message"] == "stop after 42"
    record = fx.executions.get(result.id)
    assert [r["action"] for r in record["records"]] == ["created", "updated"]
    assert record["info"] == ["not there"]
    assert record["notes"] == [
        "zoho.crm.getRecordById: INVALID_DATA the id given seems to be invalid"
    ]
    found = fx.crm.records.search("Accounts", criteria=f"(Account_Name:equals:{name})")
    assert [r["Phone"] for r in found.data] == ["42"]
