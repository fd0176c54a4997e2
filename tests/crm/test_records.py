"""Records: writes, validation with Zoho's error rows, lookups, related records, events."""

# ruff: noqa: F401, F811  (pytest fixtures imported from floodway.crm.testing)

from __future__ import annotations

import secrets
from typing import Any

import pytest
import sqlalchemy as sa

from floodway.crm import Actor, Crm, CrmError, RecordChange
from floodway.crm.testing import admin_actor, crm, fresh_crm


def uniq(prefix: str) -> str:
    return f"{prefix} {secrets.token_hex(4)}"


def create_one(crm: Crm, module: str, row: dict[str, Any]) -> str:
    res = crm.records.create(module, [row], actor=admin_actor(crm))[0]
    assert res["status"] == "success", res
    return str(res["details"]["id"])


def test_create_and_get_deal_with_account_lookup(crm: Crm) -> None:
    acc = create_one(crm, "Accounts", {"Account_Name": "Acme (EU)"})
    res = crm.records.create(
        "Deals",
        [
            {
                "Deal_Name": "Renewal 2026",
                "Stage": "Qualification",
                "Amount": "12500.456",
                "Account_Name": {"id": acc},
                "Closing_Date": "2026-03-31",
                "Probability": 40,
                "Unknown_Key": "ignored",
                "Created_Time": "ignored",
            }
        ],
        actor=admin_actor(crm),
    )
    row = res[0]
    assert row["code"] == "SUCCESS" and row["message"] == "record added"
    details = row["details"]
    assert set(details) == {
        "Modified_Time",
        "Modified_By",
        "Created_Time",
        "id",
        "Created_By",
        "$approval_state",
    }
    assert details["Created_By"] == {"name": "Admin", "id": crm.primary_admin_id}
    deal = crm.records.get("deals", details["id"])
    assert deal is not None
    assert deal["Deal_Name"] == "Renewal 2026"
    assert deal["Amount"] == 12500.46
    assert deal["Account_Name"] == {"name": "Acme (EU)", "id": acc}
    assert deal["Owner"] == {
        "name": "Admin",
        "id": crm.primary_admin_id,
        "email": "admin@floodway.local",
    }
    assert deal["Contact_Name"] is None and deal["Tag"] == []
    assert deal["Created_Time"].endswith("+00:00")
    assert deal["id"] == details["id"] and len(deal["id"]) == 19
    only = crm.records.get("Deals", details["id"], fields="Deal_Name,Nope")
    assert only == {"Deal_Name": "Renewal 2026", "id": details["id"]}


def test_ids_sort_by_creation(crm: Crm) -> None:
    res = crm.records.create(
        "Products",
        [{"Product_Name": uniq("P")} for _ in range(20)],
        actor=admin_actor(crm),
    )
    ids = [int(r["details"]["id"]) for r in res]
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("Closing_Date", "31/03/2026", "date"),
        ("Closing_Date", "2026-02-30", "date"),
        ("Amount", "12,5", "currency"),
        ("Amount", True, "currency"),
        ("Probability", 101, "integer"),
        ("Probability", "4.5", "integer"),
        ("Account_Name", "123", "lookup"),
        ("Account_Name", {"id": "abc"}, "lookup"),
        ("Deal_Name", "x" * 121, "text"),
        ("Deal_Name", ["list"], "text"),
    ],
)
def test_invalid_data_rows(crm: Crm, field: str, value: Any, expected: str) -> None:
    row = {"Deal_Name": "Bad", "Stage": "Qualification", field: value}
    res = crm.records.create(
        "Deals", [{"Deal_Name": "ok", "Stage": "Qualification"}, row], actor=admin_actor(crm)
    )
    assert res[0]["status"] == "success"
    assert res[1] == {
        "code": "INVALID_DATA",
        "details": {
            "api_name": field,
            "expected_data_type": expected,
            "json_path": f"$.data[1].{field}",
        },
        "message": "invalid data",
        "status": "error",
    }


def test_values_by_type(crm: Crm) -> None:
    lead = create_one(
        crm,
        "Leads",
        {
            "First_Name": "Pat",
            "Last_Name": "Boyle",
            "Email": " p.boyle@example.com ",
            "No_of_Employees": "42",
            "Email_Opt_Out": "TRUE",
            "Annual_Revenue": 1000,
            "Website": "zylker.com",
        },
    )
    rec = crm.records.get("Leads", lead)
    assert rec is not None
    assert rec["Full_Name"] == "Pat Boyle"
    assert rec["Email"] == "p.boyle@example.com"
    assert rec["No_of_Employees"] == 42
    assert rec["Email_Opt_Out"] is True
    assert rec["Annual_Revenue"] == 1000.0
    acc = create_one(crm, "Accounts", {"Account_Name": uniq("A"), "Account_Number": 1234567890123})
    out = crm.records.get("Accounts", acc)
    assert out is not None and out["Account_Number"] == "1234567890123"
    ev = create_one(
        crm,
        "Events",
        {
            "Event_Title": "Call",
            "Start_DateTime": "2026-02-05T14:03:09+02:00",
            "End_DateTime": "2026-02-05T15:00:00Z",
        },
    )
    event = crm.records.get("Events", ev)
    assert event is not None
    assert event["Start_DateTime"] == "2026-02-05T12:03:09+00:00"
    bad = crm.records.create(
        "Events",
        [{"Event_Title": "x", "Start_DateTime": "2026-02-05 14:03", "End_DateTime": "2026-02-05"}],
        actor=admin_actor(crm),
    )
    assert bad[0]["details"]["api_name"] == "Start_DateTime"


def test_mandatory_missing(crm: Crm) -> None:
    res = crm.records.create("Deals", [{"Deal_Name": "No stage"}], actor=admin_actor(crm))
    assert res == [
        {
            "code": "MANDATORY_NOT_FOUND",
            "details": {"api_name": "Stage", "json_path": "$.data[0].Stage"},
            "message": "required field not found",
            "status": "error",
        }
    ]


def test_request_level_errors(crm: Crm) -> None:
    with pytest.raises(CrmError) as e:
        crm.records.create("Nope", [{}], actor=admin_actor(crm))
    assert e.value.to_json() == {
        "code": "INVALID_MODULE",
        "details": {},
        "message": "the module name given seems to be invalid",
        "status": "error",
    }
    with pytest.raises(CrmError) as e:
        crm.records.create("Deals", [], actor=admin_actor(crm))
    assert e.value.code == "MANDATORY_NOT_FOUND" and e.value.details == {"api_name": "data"}
    with pytest.raises(CrmError) as e:
        crm.records.create("Deals", [{}] * 101, actor=admin_actor(crm))
    assert e.value.code == "LIMIT_EXCEEDED" and e.value.details == {"limit": 100}


def test_update_single_and_bulk(crm: Crm) -> None:
    a = create_one(crm, "Deals", {"Deal_Name": "U1", "Stage": "Qualification"})
    b = create_one(crm, "Deals", {"Deal_Name": "U2", "Stage": "Qualification"})
    res = crm.records.update(
        "Deals", [{"Stage": "Closed Won", "id": b}], actor=admin_actor(crm), record_id=a
    )
    assert res[0]["message"] == "record updated" and res[0]["details"]["id"] == a
    rec = crm.records.get("Deals", a)
    assert rec is not None and rec["Stage"] == "Closed Won" and rec["Deal_Name"] == "U1"
    res = crm.records.update(
        "Deals",
        [
            {"id": b, "Amount": 5},
            {"Amount": 1},
            {"id": "999", "Amount": 1},
            {"id": a, "Stage": None},
        ],
        actor=admin_actor(crm),
    )
    assert res[0]["status"] == "success"
    assert res[1]["code"] == "MANDATORY_NOT_FOUND" and res[1]["details"]["api_name"] == "id"
    assert res[2] == {
        "code": "INVALID_DATA",
        "details": {"api_name": "id", "json_path": "$.data[2].id"},
        "message": "the id given seems to be invalid",
        "status": "error",
    }
    assert res[3]["code"] == "MANDATORY_NOT_FOUND" and res[3]["details"]["api_name"] == "Stage"
    rec = crm.records.get("Deals", b)
    assert rec is not None and rec["Amount"] == 5.0


def test_owner_and_multiselect_append(crm: Crm) -> None:
    user, _ = crm.users.create(
        f"{secrets.token_hex(3)}@example.com", first_name="Sam", last_name="Sales"
    )
    crm.metadata.add_field(
        "Leads", "Interests", "multiselectpicklist", pick_list_values=["A", "B", "C"]
    ) if crm.metadata.module("Leads").field("Interests") is None else None
    lead = create_one(
        crm, "Leads", {"Last_Name": "Owned", "Owner": {"id": user.id}, "Interests": ["A"]}
    )
    rec = crm.records.get("Leads", lead)
    assert rec is not None
    assert rec["Owner"] == {"name": "Sam Sales", "id": user.id, "email": user.email}
    crm.records.update(
        "Leads",
        [{"Interests": ["B", "A"], "$append_values": {"Interests": True}}],
        actor=admin_actor(crm),
        record_id=lead,
    )
    rec = crm.records.get("Leads", lead)
    assert rec is not None and rec["Interests"] == ["A", "B"]
    bad = crm.records.update(
        "Leads", [{"Owner": {"id": "1"}}], actor=admin_actor(crm), record_id=lead
    )
    assert bad[0]["details"]["api_name"] == "Owner"


def test_unique_custom_field_and_upsert(crm: Crm) -> None:
    mod = crm.metadata.module("Products")
    if mod.field("SKU") is None:
        crm.metadata.add_field("Products", "SKU", "text", unique=True)
    sku = uniq("SKU").replace(" ", "-")
    first = create_one(crm, "Products", {"Product_Name": "Widget", "SKU": sku})
    res = crm.records.create(
        "Products",
        [{"Product_Name": "Clash", "SKU": sku.lower()}],
        actor=admin_actor(crm),
    )
    assert res[0]["code"] == "DUPLICATE_DATA"
    assert res[0]["message"] == "duplicate data"
    assert res[0]["details"]["api_name"] == "SKU"
    assert res[0]["details"]["json_path"] == "$.data[0].SKU"
    assert res[0]["details"]["duplicate_record"] == {
        "id": first,
        "module": {"api_name": "Products", "id": mod.id},
    }
    two = crm.records.create(
        "Products",
        [{"Product_Name": "A", "SKU": sku + "x"}, {"Product_Name": "B", "SKU": sku + "X"}],
        actor=admin_actor(crm),
    )
    assert two[0]["status"] == "success" and two[1]["code"] == "DUPLICATE_DATA"
    ups = crm.records.upsert(
        "Products",
        [{"Product_Name": "Widget v2", "SKU": sku}, {"Product_Name": "New", "SKU": sku + "new"}],
        actor=admin_actor(crm),
        duplicate_check_fields=["SKU"],
    )
    assert ups[0]["action"] == "update" and ups[0]["duplicate_field"] == "SKU"
    assert ups[0]["details"]["id"] == first and ups[0]["message"] == "record updated"
    assert ups[1]["action"] == "insert" and ups[1]["duplicate_field"] is None
    rec = crm.records.get("Products", first)
    assert rec is not None and rec["Product_Name"] == "Widget v2"


def test_upsert_default_duplicate_fields(crm: Crm) -> None:
    email = f"{secrets.token_hex(4)}@example.com"
    one = crm.records.upsert(
        "Leads", [{"Last_Name": "Boyle", "Email": email}], actor=admin_actor(crm)
    )
    two = crm.records.upsert(
        "Leads", [{"Last_Name": "Boyle2", "Email": email.upper()}], actor=admin_actor(crm)
    )
    assert one[0]["action"] == "insert"
    assert two[0]["action"] == "update" and two[0]["duplicate_field"] == "Email"
    assert two[0]["details"]["id"] == one[0]["details"]["id"]


def test_related_lists_notes_and_tasks(crm: Crm) -> None:
    acc = create_one(crm, "Accounts", {"Account_Name": uniq("Parent")})
    deal = create_one(
        crm, "Deals", {"Deal_Name": "Child", "Stage": "Qualification", "Account_Name": acc}
    )
    contact = create_one(crm, "Contacts", {"Last_Name": "Kid", "Account_Name": {"id": acc}})
    note = create_one(
        crm,
        "Notes",
        {"Note_Title": "t", "Note_Content": "c", "Parent_Id": deal, "se_module": "Deals"},
    )
    note2 = create_one(
        crm,
        "Notes",
        {"Note_Content": "v8", "Parent_Id": {"module": {"api_name": "Deals"}, "id": deal}},
    )
    task = create_one(
        crm, "Tasks", {"Subject": "Call", "What_Id": {"id": deal}, "$se_module": "Deals"}
    )
    page = crm.records.related("Accounts", acc, "Deals")
    assert page is not None and [d["id"] for d in page.data] == [deal]
    page = crm.records.related("Accounts", acc, "contacts")
    assert page is not None and [d["id"] for d in page.data] == [contact]
    notes = crm.records.related("Deals", deal, "Notes")
    assert notes is not None and {n["id"] for n in notes.data} == {note, note2}
    n = next(x for x in notes.data if x["id"] == note)
    assert n["Parent_Id"] == {
        "module": {"api_name": "Deals", "id": crm.metadata.module("Deals").id},
        "name": "Child",
        "id": deal,
    }
    tasks = crm.records.related("Deals", deal, "Tasks")
    assert tasks is not None and [x["id"] for x in tasks.data] == [task]
    assert tasks.data[0]["What_Id"] == {"name": "Child", "id": deal}
    assert tasks.data[0]["$se_module"] == "Deals"
    assert crm.records.related("Deals", "1234567890123456789", "Notes") is None
    with pytest.raises(CrmError) as e:
        crm.records.related("Deals", deal, "Nope")
    assert e.value.details == {"resource_path_index": 2}
    bad = crm.records.create(
        "Notes",
        [{"Note_Content": "x", "Parent_Id": deal, "se_module": "Accounts"}],
        actor=admin_actor(crm),
    )
    assert bad[0]["details"]["api_name"] == "Parent_Id"


def test_link_and_unlink(crm: Crm) -> None:
    acc = create_one(crm, "Accounts", {"Account_Name": uniq("Linker")})
    deal = create_one(crm, "Deals", {"Deal_Name": "Loose", "Stage": "Qualification"})
    res = crm.records.link("Accounts", acc, "Deals", [{"id": deal}], actor=admin_actor(crm))
    assert res == [
        {
            "code": "SUCCESS",
            "details": {"id": deal},
            "message": "relation added",
            "status": "success",
        }
    ]
    page = crm.records.related("Accounts", acc, "Deals")
    assert page is not None and [d["id"] for d in page.data] == [deal]
    res = crm.records.unlink("Accounts", acc, "Deals", [deal], actor=admin_actor(crm))
    assert res[0]["message"] == "relation removed"
    page = crm.records.related("Accounts", acc, "Deals")
    assert page is not None and page.data == []


def test_delete_cascades_notes_and_clears_lookups(crm: Crm) -> None:
    acc = create_one(crm, "Accounts", {"Account_Name": uniq("Doomed")})
    deal = create_one(
        crm, "Deals", {"Deal_Name": "Orphan", "Stage": "Qualification", "Account_Name": acc}
    )
    note = create_one(
        crm, "Notes", {"Note_Content": "bye", "Parent_Id": acc, "se_module": "Accounts"}
    )
    res = crm.records.delete("Accounts", [acc, "42", "abc"], actor=admin_actor(crm))
    assert res[0] == {
        "code": "SUCCESS",
        "details": {"id": acc},
        "message": "record deleted",
        "status": "success",
    }
    assert res[1] == {
        "code": "INVALID_DATA",
        "details": {"id": "42"},
        "message": "record not deleted",
        "status": "error",
    }
    assert res[2]["code"] == "INVALID_DATA"
    assert crm.records.get("Accounts", acc) is None
    assert crm.records.get("Notes", note) is None
    rec = crm.records.get("Deals", deal)
    assert rec is not None and rec["Account_Name"] is None


def test_custom_module_and_field_without_data_loss(fresh_crm: Crm) -> None:
    acc = create_one(fresh_crm, "Accounts", {"Account_Name": "Keep me", "Phone": "+1 555"})
    other = Crm(fresh_crm.engine)  # another node with its own metadata cache
    other.bootstrap()
    assert other.metadata.module("Accounts").field("Total_Revenue") is None
    fresh_crm.metadata.add_field("Accounts", "Total_Revenue", "currency", label="Total Revenue")
    rec = fresh_crm.records.get("Accounts", acc)
    assert rec is not None and rec["Phone"] == "+1 555" and rec["Total_Revenue"] is None
    # the other node sees the field in its next write transaction, without a restart
    res = other.records.update(
        "Accounts", [{"Total_Revenue": 99.5}], actor=admin_actor(other), record_id=acc
    )
    assert res[0]["status"] == "success"
    rec = fresh_crm.records.get("Accounts", acc)
    assert rec is not None and rec["Total_Revenue"] == 99.5 and rec["Account_Name"] == "Keep me"
    fields = {f["api_name"]: f for f in fresh_crm.metadata.fields_json("Accounts")}
    assert fields["Total_Revenue"]["data_type"] == "currency"
    assert fields["Total_Revenue"]["custom_field"] is True
    mod = fresh_crm.metadata.add_module("Projects", singular_label="Project")
    fresh_crm.metadata.add_field("Projects", "Client", "lookup", lookup_module="accounts")
    fresh_crm.metadata.add_field("Projects", "Code", "autonumber", options={"prefix": "PRJ-"})
    p1 = create_one(fresh_crm, "projects", {"Name": "Big", "Client": acc})
    p2 = create_one(fresh_crm, "Projects", {"Name": "Small"})
    r1, r2 = fresh_crm.records.get("Projects", p1), fresh_crm.records.get("Projects", p2)
    assert r1 is not None and r2 is not None
    assert r1["Client"] == {"name": "Keep me", "id": acc}
    assert (r1["Code"], r2["Code"]) == ("PRJ-1", "PRJ-2")
    assert mod.custom and fresh_crm.metadata.module_json("Projects")["generated_type"] == "custom"
    page = fresh_crm.records.related("Accounts", acc, "Projects")
    assert page is not None and [x["id"] for x in page.data] == [p1]
    with pytest.raises(CrmError) as e:
        fresh_crm.metadata.add_field("Accounts", "Total_Revenue", "text")
    assert e.value.code == "DUPLICATE_DATA"
    with pytest.raises(CrmError) as e:
        fresh_crm.metadata.add_field("Accounts", "bad name", "text")
    assert e.value.code == "INVALID_DATA"
    with pytest.raises(CrmError):
        fresh_crm.metadata.add_field("Accounts", "X1", "nonsense")


# ------------------------------------------------------------------------------------------
# Record-change events


def test_events_seen_inside_transaction(crm: Crm) -> None:
    seen: list[tuple[RecordChange, bool]] = []

    def on_change(event: RecordChange, conn: sa.Connection) -> None:
        # the record is visible in the writer's transaction
        row = conn.execute(
            sa.text("SELECT count(*) FROM records WHERE id = :id"), {"id": int(event.record_id)}
        ).scalar()
        seen.append((event, row == (0 if event.action == "delete" else 1)))

    unsubscribe = crm.events.subscribe(on_change)
    try:
        actor = Actor(crm.primary_admin_id or "", channel="function", workflow=False)
        rid = crm.records.create(
            "Deals", [{"Deal_Name": "Ev", "Stage": "Qualification"}], actor=actor
        )[0]["details"]["id"]
        crm.records.update(
            "Deals", [{"Stage": "Closed Won", "Amount": 10}], actor=actor, record_id=rid
        )
        crm.records.update("Deals", [{"Stage": "Closed Won"}], actor=actor, record_id=rid)
        crm.records.delete("Deals", [rid], actor=actor)
    finally:
        unsubscribe()
    assert all(ok for _, ok in seen)
    events = [e for e, _ in seen]
    assert [e.action for e in events] == ["create", "update", "delete"]
    create, update, delete = events
    assert create.old is None and create.new is not None and create.new["Deal_Name"] == "Ev"
    assert create.channel == "function" and create.workflow is False
    assert create.user_id == crm.primary_admin_id and create.module == "Deals"
    assert update.changed == ("Amount", "Stage")
    assert update.old is not None and update.old["Stage"] == "Qualification"
    assert update.new is not None and update.new["Stage"] == "Closed Won"
    assert delete.new is None and delete.old is not None and delete.old["Amount"] == 10
    with crm.engine.connect() as conn:
        stored = (
            conn.execute(
                sa.text("SELECT action FROM record_events WHERE record_id = :id ORDER BY id"),
                {"id": int(rid)},
            )
            .scalars()
            .all()
        )
    assert stored == ["create", "update", "delete"]


def test_failing_subscriber_rolls_back_the_write(crm: Crm) -> None:
    name = uniq("Rollback")

    def boom(event: RecordChange, conn: sa.Connection) -> None:
        conn.execute(
            sa.text(
                "INSERT INTO record_events (id, org_id, module, record_id, action, user_id, "
                "channel, workflow, changed, created_time) VALUES "
                "(1, 1, 'X', 1, 'x', 1, 'api', false, '[]', 0)"
            )
        )
        raise RuntimeError("automation failed")

    unsubscribe = crm.events.subscribe(boom)
    try:
        with pytest.raises(RuntimeError):
            crm.records.create("Accounts", [{"Account_Name": name}], actor=admin_actor(crm))
    finally:
        unsubscribe()
    found = crm.records.search("Accounts", criteria=f"(Account_Name:equals:{name})")
    assert found.data == []
    with crm.engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM record_events WHERE id = 1")).scalar() == 0
        )
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM records WHERE name = :n"), {"n": name}
            ).scalar()
            == 0
        )


def test_actor_must_be_a_user(crm: Crm) -> None:
    with pytest.raises(CrmError):
        crm.records.create("Accounts", [{"Account_Name": "x"}], actor=Actor("1"))


def test_if_unmodified_since(crm: Crm) -> None:
    import datetime as dt

    rid = create_one(crm, "Accounts", {"Account_Name": uniq("Stale")})
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    res = crm.records.update(
        "Accounts", [{"Phone": "1"}], actor=admin_actor(crm), record_id=rid, unmodified_since=past
    )
    assert res[0]["code"] == "INVALID_DATA"
    assert res[0]["details"] == {
        "api_name": "Modified_Time",
        "json_path": "$.data[0].Modified_Time",
    }
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    res = crm.records.update(
        "Accounts", [{"Phone": "1"}], actor=admin_actor(crm), record_id=rid, unmodified_since=future
    )
    assert res[0]["status"] == "success"


def test_concurrent_upserts_do_not_duplicate(crm: Crm) -> None:
    import threading

    email = f"{secrets.token_hex(4)}@race.example"
    errors: list[BaseException] = []

    def work() -> None:
        try:
            crm.records.upsert(
                "Contacts", [{"Last_Name": "Race", "Email": email}], actor=admin_actor(crm)
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    found = crm.records.search("Contacts", email=email)
    assert len(found.data) == 1


def test_unique_numbers_and_criteria_beyond_64_bit_integers(crm: Crm) -> None:
    if crm.metadata.module("Products").field("Serial_Big") is None:
        crm.metadata.add_field("Products", "Serial_Big", "decimal", unique=True)
    big = 1e20 + 2**20 * len(uniq("n"))  # a whole number SQLite cannot bind as an integer
    first = create_one(crm, "Products", {"Product_Name": "Big one", "Serial_Big": big})
    again = crm.records.create(
        "Products", [{"Product_Name": "Same", "Serial_Big": big}], actor=admin_actor(crm)
    )
    assert again[0]["code"] == "DUPLICATE_DATA" and again[0]["details"]["api_name"] == "Serial_Big"
    found = crm.records.search(
        "Products", criteria="(Serial_Big:greater_than:99999999999999999999)"
    )
    assert first in {r["id"] for r in found.data}
    assert (
        crm.records.count(
            "Products", criteria="(Serial_Big:greater_than:1000000000000000000000000)"
        )
        == 0
    )
