"""The pure parts of the workflow engine: which events a trigger fires for, due times of
scheduled actions and date rules (calendar days in the org time zone), the depth limit."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from floodway.automation.loop_guard import LoopGuard
from floodway.automation.matching import trigger_matches
from floodway.automation.planning import after_due_ms, date_rule_due_ms
from floodway.crm.events import RecordChange
from floodway.project.model import FieldUpdateAction, Workflow
from floodway.project.timing import Duration, Offset

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 3, 28, 12, 0, tzinfo=dt.UTC)


def rule(on: str, fields: tuple[str, ...] = (), **kw: object) -> Workflow:
    return Workflow("r", "Deals", on, (FieldUpdateAction({}),), fields, **kw)  # type: ignore[arg-type]


def event(action: str, changed: tuple[str, ...] = ()) -> RecordChange:
    return RecordChange(
        id="11",
        action=action,
        module="Deals",
        record_id="22",
        old=None if action == "create" else {},
        new=None if action == "delete" else {},
        changed=changed,
        user_id="33",
        channel="api",
        workflow=True,
        time=NOW,
    )


@pytest.mark.parametrize(
    ("on", "fields", "action", "changed", "fires"),
    [
        ("create", (), "create", (), True),
        ("create", (), "update", ("Amount",), False),
        ("edit", (), "update", ("Amount",), True),
        ("edit", (), "update", (), False),
        ("edit", (), "create", (), False),
        ("edit", ("Stage",), "update", ("Amount",), False),
        ("edit", ("Stage",), "update", ("stage",), True),
        ("create_or_edit", (), "create", (), True),
        ("create_or_edit", (), "update", ("Amount",), True),
        ("create_or_edit", ("Stage",), "create", (), True),
        ("create_or_edit", ("Stage",), "update", ("Amount",), False),
        ("field_update", ("Stage",), "update", ("Stage", "Amount"), True),
        ("field_update", ("Stage",), "update", ("Amount",), False),
        ("field_update", ("Stage",), "create", (), False),
        ("delete", (), "delete", (), True),
        ("delete", (), "update", ("Amount",), False),
        ("date", (), "create", (), False),
        ("date", (), "update", ("Closing_Date",), False),
    ],
)
def test_trigger_matches(
    on: str, fields: tuple[str, ...], action: str, changed: tuple[str, ...], fires: bool
) -> None:
    assert trigger_matches(rule(on, fields), event(action, changed)) is fires


def test_new_chain_starts_at_the_event() -> None:
    e = event("create")
    assert (e.chain_id, e.chain_depth) == ("11", 0)


def test_minutes_and_hours_are_elapsed_time_across_a_clock_change() -> None:
    before = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)  # 01:30 CET, change at 02:00
    due = after_due_ms(int(before.timestamp() * 1000), Duration(2, "h"), BERLIN)
    assert due - int(before.timestamp() * 1000) == 2 * 3600 * 1000


def test_days_keep_the_wall_clock_time_in_the_org_time_zone() -> None:
    before = dt.datetime(2026, 3, 28, 8, 0, tzinfo=dt.UTC)  # 09:00 CET
    due = after_due_ms(int(before.timestamp() * 1000), Duration(1, "d"), BERLIN)
    local = dt.datetime.fromtimestamp(due / 1000, BERLIN)
    assert (local.day, local.hour, local.minute) == (29, 9, 0)  # 09:00 CEST, 23 h later
    assert due - int(before.timestamp() * 1000) == 23 * 3600 * 1000


def test_date_rule_due_on_a_date_field_at_a_local_time() -> None:
    r = rule("date", date_field="Closing_Date", offset=Offset(-2, "d"), at=dt.time(9, 30))
    due = date_rule_due_ms(r, {"Closing_Date": "2026-07-10"}, {"Closing_Date": "date"}, BERLIN)
    assert due == int(dt.datetime(2026, 7, 8, 9, 30, tzinfo=BERLIN).timestamp() * 1000)


def test_date_rule_due_on_a_datetime_field_and_empty_fields() -> None:
    r = rule("date", date_field="Remind_At", offset=Offset(1, "w"))
    types = {"Remind_At": "datetime"}
    due = date_rule_due_ms(r, {"Remind_At": "2026-07-10T10:15:00+02:00"}, types, BERLIN)
    assert due == int(dt.datetime(2026, 7, 17, 8, 15, tzinfo=dt.UTC).timestamp() * 1000)
    assert date_rule_due_ms(r, {"Remind_At": None}, types, BERLIN) is None


def test_depth_limit() -> None:
    guard = LoopGuard(5)
    assert guard.depth_reason(4) is None
    assert guard.depth_reason(5) == "loop guard: chain depth 5 reached"


def test_an_action_job_carries_only_the_fields_its_templates_name() -> None:
    from floodway.automation.snapshot import for_action
    from floodway.project.merge_fields import parse_template
    from floodway.project.model import FunctionAction, TaskAction

    record = {
        "id": "9",
        "Deal_Name": "Big",
        "Stage": "Won",
        "Account_Name": {"id": "7", "name": "Acme"},
        "Owner": {"id": "3", "name": "Ann"},
        "Description": "x" * 2000,
    }
    call = FunctionAction(
        "f",
        {
            "a": parse_template("${Deals.account_name.name}"),
            "b": parse_template("Stage ${Deals.Stage}"),
        },
    )
    assert for_action(record, call) == {
        "id": "9",
        "Stage": "Won",
        "Account_Name": {"id": "7", "name": "Acme"},
    }
    task = TaskAction({"Subject": parse_template("Call about ${Deals.Deal_Name}")})
    assert for_action(record, task) == {
        "id": "9",
        "Deal_Name": "Big",
        "Owner": {"id": "3", "name": "Ann"},
    }
