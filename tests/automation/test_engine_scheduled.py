"""Scheduled actions (``after``) and date rules (functions-platform.md §4.1, §4.5) on a
controllable clock: due times, the record re-read and the criteria re-checked when they fire,
skips recorded, date rules re-planned when their field changes, cancelled on delete, not planned
when already past, and computed in the org time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from floodway.crm.testing import BACKENDS
from floodway.functions.model import ms_to_iso

from .workflow_env import Env, clear_rules, workflow_env

HOUR = 3600
DAY = 86400


@pytest.fixture(scope="module", params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with workflow_env(request.param, tmp_path_factory.mktemp("wf")) as e:
        yield e


@pytest.fixture(autouse=True)
def _own_rules(env: Env) -> Iterator[None]:
    yield
    clear_rules(env)


@pytest.fixture
def berlin(env: Env) -> Iterator[ZoneInfo]:
    tz = ZoneInfo("Europe/Berlin")
    before = env.crm.tz, env.crm.time_zone_name
    env.crm.tz, env.crm.time_zone_name = tz, "Europe/Berlin"
    yield tz
    env.crm.tz, env.crm.time_zone_name = before


def iso(moment: dt.datetime) -> str:
    return ms_to_iso(int(moment.timestamp() * 1000)) or ""


# --------------------------------------------------------------------------- after


def test_scheduled_action_runs_when_due_with_the_current_record(env: Env) -> None:
    fn = env.function("String name", "info name;")
    item = env.rule(
        on="create",
        actions=[{"function": fn, "arguments": {"name": "${Deals.Deal_Name}"}, "after": "1h"}],
    )
    start = env.clock()
    rid = env.create(Deal_Name="Before")
    [pending] = env.engine.pending("Deals", rid)
    assert pending["rule_id"] == item.id and pending["rule"] == item.name
    assert pending["kind"] == "function" and pending["action_index"] == 0
    assert pending["due_time"] == iso(start + dt.timedelta(hours=1))
    env.update(rid, Deal_Name="After")
    env.advance(30 * 60)
    assert env.executions(fn) == []
    env.advance(31 * 60)
    [run] = env.executions(fn)
    assert run["info"] == ["After"]  # read again when it fired
    assert run["trigger"]["record_id"] == rid
    assert env.engine.pending("Deals", rid) == []
    assert [r.status for r in env.scheduled(rid)] == ["done"]


def test_scheduled_action_is_skipped_when_the_record_no_longer_matches(env: Env) -> None:
    fn = env.function("String name", "info name;")
    item = env.rule(
        on="create",
        criteria="(Stage:equals:Qualification)",
        actions=[{"function": fn, "arguments": {"name": "${Deals.Deal_Name}"}, "after": "10m"}],
    )
    rid = env.create(Stage="Qualification")
    env.update(rid, Stage="Closed Lost")
    env.advance(11 * 60)
    [run] = env.executions(fn)
    assert run["status"] == "skipped"
    assert run["error"]["message"] == "the record no longer meets the rule's criteria"
    [entry] = env.activity(item)
    assert entry["status"] == "skipped" and entry["execution_id"] == run["id"]
    assert [r.status for r in env.scheduled(rid)] == ["skipped"]


def test_scheduled_action_is_skipped_when_the_record_was_deleted(env: Env) -> None:
    item = env.rule(on="create", actions=[{"field_update": {"Description": "late"}, "after": "1d"}])
    rid = env.create()
    env.delete(rid)
    env.advance(DAY + 60)
    [entry] = env.activity(item)
    assert entry["status"] == "skipped" and entry["message"] == "the record was deleted"
    assert entry["kind"] == "field_update"


def test_instant_and_scheduled_actions_of_one_rule(env: Env) -> None:
    item = env.rule(
        on="create",
        actions=[
            {"field_update": {"Description": "now"}},
            {"field_update": {"Description": "later"}, "after": "2h"},
        ],
    )
    rid = env.create()
    env.settle()
    assert env.get(rid)["Description"] == "now"
    env.advance(2 * HOUR + 1)
    assert env.get(rid)["Description"] == "later"
    assert [e["action_index"] for e in env.activity(item)] == [0, 1]


# --------------------------------------------------------------------------- date rules


def test_date_rule_fires_at_offset_and_time_in_the_org_time_zone(
    env: Env, berlin: ZoneInfo
) -> None:
    fn = env.function("String dealId", "info dealId;")
    env.rule(
        on="date",
        date_field="Closing_Date",
        offset="-1d",
        at="09:00",
        actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}],
    )
    closing = env.clock().astimezone(berlin).date() + dt.timedelta(days=3)
    rid = env.create(Closing_Date=closing.isoformat())
    due = dt.datetime.combine(closing - dt.timedelta(days=1), dt.time(9, 0), tzinfo=berlin)
    [pending] = env.engine.pending("Deals", rid)
    assert pending["kind"] == "date_rule" and pending["action_index"] is None
    assert pending["due_time"] == iso(due)
    env.advance((due - env.clock()).total_seconds() - 60)
    assert env.executions(fn) == []
    env.advance(120)
    [run] = env.executions(fn)
    assert run["info"] == [rid] and run["chain_depth"] == 1
    assert env.engine.pending("Deals", rid) == []


def test_date_rule_is_replanned_when_its_field_changes(env: Env) -> None:
    fn = env.function("String dealId", "info dealId;")
    env.rule(
        on="date",
        date_field="Closing_Date",
        actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}],
    )
    today = env.clock().date()
    rid = env.create(Closing_Date=(today + dt.timedelta(days=2)).isoformat())
    first = env.engine.pending("Deals", rid)[0]["due_time"]
    env.update(rid, Closing_Date=(today + dt.timedelta(days=4)).isoformat())
    [pending] = env.engine.pending("Deals", rid)
    assert pending["due_time"] != first
    assert sorted(r.status for r in env.scheduled(rid)) == ["cancelled", "pending"]
    env.advance(3 * DAY)
    assert env.executions(fn) == []  # the old time passed without firing
    env.advance(2 * DAY)
    assert [r["info"] for r in env.executions(fn)] == [[rid]]


def test_date_rule_is_cancelled_when_the_record_is_deleted(env: Env) -> None:
    env.rule(
        on="date",
        date_field="Closing_Date",
        actions=[{"task": {"Subject": "never"}}],
    )
    rid = env.create(Closing_Date=(env.clock().date() + dt.timedelta(days=2)).isoformat())
    assert len(env.engine.pending("Deals", rid)) == 1
    env.delete(rid)
    assert [r.status for r in env.scheduled(rid)] == ["cancelled"]
    env.advance(3 * DAY)
    tasks = env.crm.records.list("Tasks", per_page=200).data
    assert all(t["Subject"] != "never" for t in tasks)


def test_date_already_past_when_saved_is_not_planned(env: Env) -> None:
    env.rule(on="date", date_field="Closing_Date", actions=[{"task": {"Subject": "past"}}])
    rid = env.create(Closing_Date=(env.clock().date() - dt.timedelta(days=1)).isoformat())
    assert env.scheduled(rid) == []


def test_date_rule_on_a_datetime_field_rechecks_criteria_when_due(env: Env) -> None:
    item = env.rule(
        module="Tasks",
        on="date",
        date_field="Remind_At",
        offset="-1d",
        criteria="(Status:equals:Not Started)",
        actions=[{"field_update": {"Description": "reminded"}}],
    )
    remind = (env.clock() + dt.timedelta(days=2)).replace(microsecond=0)
    due_task = env.create("Tasks", Subject="a", Status="Not Started", Remind_At=remind.isoformat())
    done_task = env.create("Tasks", Subject="b", Status="Not Started", Remind_At=remind.isoformat())
    [pending] = env.engine.pending("Tasks", due_task)
    assert pending["due_time"] == iso(remind - dt.timedelta(days=1))
    env.update(done_task, "Tasks", Status="Completed")
    env.advance(DAY + 60)
    assert env.get(due_task, "Tasks")["Description"] == "reminded"
    assert env.get(done_task, "Tasks")["Description"] is None
    skipped = [e for e in env.activity(item) if e["status"] == "skipped"]
    assert [e["record_id"] for e in skipped] == [done_task]
    assert skipped[0]["message"] == "the record no longer meets the rule's criteria"
