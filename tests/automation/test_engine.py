"""Workflow rules fire on record changes (functions-platform.md §4): each trigger kind, criteria
on the committed record, repeat, which writes fire rules, each action kind, and the transactional
enqueue of the actions. SQLite and PostgreSQL, real job queue, real HTTP receiver for webhooks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from floodway.automation import schema as auto_schema
from floodway.crm.service import Actor
from floodway.crm.testing import BACKENDS
from floodway.db import read_transaction

from .workflow_env import Env, clear_rules, receiver, workflow_env


@pytest.fixture(scope="module", params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with workflow_env(request.param, tmp_path_factory.mktemp("wf")) as e:
        yield e


@pytest.fixture(autouse=True)
def _own_rules(env: Env) -> Iterator[None]:
    yield
    clear_rules(env)


def recorder(env: Env) -> str:
    """A function that logs the record id it was given."""
    return env.function("String dealId", "info dealId;")


def fired_for(env: Env, fn: str) -> list[str]:
    return [e["info"][0] for e in env.executions(fn) if e["status"] == "success"]


# --------------------------------------------------------------------------- triggers


def test_create_rule_runs_the_function_with_typed_arguments_as_the_saving_user(
    env: Env,
) -> None:
    user, _ = env.crm.users.create(f"saver{env.crm.ids.next_id()}@example.com", last_name="Saver")
    fn = env.function(
        "String dealId, String name, Decimal amount, Date closing",
        'info dealId + "|" + name + "|" + (amount * 2) + "|" + closing.addDay(1);',
    )
    item = env.rule(
        on="create",
        actions=[
            {
                "function": fn,
                "arguments": {
                    "dealId": "${Deals.id}",
                    "name": "Deal ${Deals.Deal_Name}",
                    "amount": "${Deals.Amount}",
                    "closing": "${Deals.Closing_Date}",
                },
            }
        ],
    )
    rid = env.create(
        Deal_Name="Acme", Amount=250.5, Closing_Date="2026-05-31", actor=Actor(user.id)
    )
    env.settle()
    [run] = env.executions(fn)
    assert run["status"] == "success", run["error"]
    assert run["info"][0].startswith(f"{rid}|Deal Acme|501")
    assert "01-Jun-2026" in run["info"][0] or "2026-06-01" in run["info"][0]
    assert run["run_as"] == user.id
    assert run["trigger"] == {
        "type": "workflow",
        "rule_id": item.id,
        "rule": item.name,
        "module": "Deals",
        "record_id": rid,
    }
    assert run["chain_depth"] == 1


def test_edit_rule_fires_only_when_a_field_value_changed(env: Env) -> None:
    fn = recorder(env)
    env.rule(on="edit", actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}])
    rid = env.create(Amount=10)
    env.update(rid, Amount=10)  # same value: no change, no event
    env.settle()
    assert fired_for(env, fn) == []
    env.update(rid, Amount=11)
    env.settle()
    assert fired_for(env, fn) == [rid]


def test_create_or_edit_rule_fires_on_both(env: Env) -> None:
    fn = recorder(env)
    env.rule(
        on="create_or_edit", actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}]
    )
    rid = env.create()
    env.update(rid, Amount=5)
    env.settle()
    assert fired_for(env, fn) == [rid, rid]


def test_field_update_rule_fires_only_for_its_fields(env: Env) -> None:
    fn = recorder(env)
    env.rule(
        on="field_update",
        fields=["Stage"],
        actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}],
    )
    rid = env.create()
    env.update(rid, Amount=99)
    env.settle()
    assert fired_for(env, fn) == []
    env.update(rid, Stage="Negotiation/Review")
    env.settle()
    assert fired_for(env, fn) == [rid]


def test_delete_rule_sees_the_last_stored_state(env: Env) -> None:
    fn = env.function("String dealId, String name", 'info dealId + " " + name;')
    env.rule(
        on="delete",
        actions=[
            {"function": fn, "arguments": {"dealId": "${Deals.id}", "name": "${Deals.Deal_Name}"}}
        ],
    )
    rid = env.create(Deal_Name="Gone soon")
    env.delete(rid)
    env.settle()
    [run] = env.executions(fn)
    assert run["info"] == [f"{rid} Gone soon"]


# --------------------------------------------------------------------------- criteria, repeat


def test_criteria_are_evaluated_on_the_committed_record(env: Env) -> None:
    fn = recorder(env)
    env.rule(
        on="create_or_edit",
        criteria="((Stage:equals:Closed Won)and(Amount:greater_than:1000))",
        actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}],
    )
    small = env.create(Stage="Closed Won", Amount=10)
    big = env.create(Stage="Qualification", Amount=5000)
    env.settle()
    assert fired_for(env, fn) == []
    env.update(big, Stage="Closed Won")  # the record after the change matches
    env.settle()
    assert fired_for(env, fn) == [big]
    assert small not in fired_for(env, fn)


def test_first_time_rule_runs_once_per_record(env: Env) -> None:
    fn = recorder(env)
    env.rule(
        on="create_or_edit",
        criteria="(Amount:greater_than:100)",
        repeat="first_time",
        actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}],
    )
    rid = env.create(Amount=1)
    env.update(rid, Amount=500)  # first match
    env.update(rid, Amount=1)  # stops matching
    env.update(rid, Amount=900)  # matches again: ignored
    other = env.create(Amount=200)
    env.settle()
    assert fired_for(env, fn) == [rid, other]


def test_every_time_rule_runs_on_each_qualifying_event(env: Env) -> None:
    fn = recorder(env)
    env.rule(
        on="edit",
        criteria="(Amount:greater_than:100)",
        actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}],
    )
    rid = env.create(Amount=1)
    env.update(rid, Amount=500)
    env.update(rid, Amount=600)
    env.settle()
    assert fired_for(env, fn) == [rid, rid]


def test_rules_fire_in_ascending_order(env: Env) -> None:
    fn = env.function("String label", "info label;")
    env.rule(
        name="second", on="create", order=2, actions=[{"function": fn, "arguments": {"label": "2"}}]
    )
    env.rule(
        name="first", on="create", order=1, actions=[{"function": fn, "arguments": {"label": "1"}}]
    )
    env.create()
    env.settle()
    assert [e["info"][0] for e in env.executions(fn)] == ["1", "2"]


# --------------------------------------------------------------------------- which writes fire


def test_api_write_without_workflow_fires_nothing(env: Env) -> None:
    fn = recorder(env)
    env.rule(on="create", actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}])
    env.create(actor=env.actor(workflow=False))
    env.settle()
    assert env.executions(fn) == []


def test_function_writes_fire_rules_only_when_asked(env: Env) -> None:
    watcher = recorder(env)
    env.rule(
        module="Accounts",
        on="create",
        actions=[{"function": watcher, "arguments": {"dealId": "${Accounts.id}"}}],
    )
    writer = env.function(
        "String dealId",
        'zoho.crm.createRecord("Accounts", {"Account_Name": "quiet " + dealId});\n'
        'r = zoho.crm.createRecord("Accounts", {"Account_Name": "loud " + dealId}, '
        '{"trigger": {"workflow"}});\n'
        'info r.get("id");',
    )
    env.rule(on="create", actions=[{"function": writer, "arguments": {"dealId": "${Deals.id}"}}])
    env.create()
    env.settle()
    [run] = env.executions(writer)
    loud = run["info"][0]
    assert fired_for(env, watcher) == [loud]
    [watched] = env.executions(watcher)
    assert watched["chain_id"] == run["chain_id"]
    assert watched["chain_depth"] == 2


# --------------------------------------------------------------------------- actions


def test_field_update_action_writes_the_record_and_fires_no_rule(env: Env) -> None:
    fn = recorder(env)
    item = env.rule(
        on="create",
        actions=[{"field_update": {"Description": "Reviewed ${Deals.Deal_Name}", "Amount": "42"}}],
    )
    env.rule(on="edit", actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}])
    rid = env.create(Deal_Name="Zeta")
    env.settle()
    rec = env.get(rid)
    assert rec["Description"] == "Reviewed Zeta" and rec["Amount"] == 42
    assert env.executions(fn) == []  # the field update did not fire the edit rule
    [entry] = env.activity(item)
    assert entry["status"] == "success" and entry["kind"] == "field_update"


def test_refused_field_update_is_a_failure_in_the_activity_log(env: Env) -> None:
    item = env.rule(on="create", actions=[{"field_update": {"Amount": "not a number"}}])
    rid = env.create(Amount=7)
    env.settle()
    assert env.get(rid)["Amount"] == 7
    [entry] = env.activity(item)
    assert entry["status"] == "failure"
    assert "Amount" in entry["message"]


def test_webhook_action_posts_the_rendered_json_body(env: Env) -> None:
    with receiver() as rec:
        item = env.rule(
            on="create",
            actions=[
                {
                    "webhook": {
                        "url": rec.url + "?deal=${Deals.id}",
                        "method": "POST",
                        "headers": {"X-Deal": "${Deals.Deal_Name}"},
                        "body": '{"name": "${Deals.Deal_Name}", "amount": ${Deals.Amount}}',
                    }
                }
            ],
        )
        rid = env.create(Deal_Name='Say "hi"', Amount=12.5)
        env.settle()
        [req] = rec.requests
    assert req["method"] == "POST"
    assert req["path"] == f"/hook?deal={rid}"
    assert req["headers"]["X-Deal"] == 'Say "hi"'
    assert json.loads(req["body"]) == {"name": 'Say "hi"', "amount": 12.5}
    [entry] = env.activity(item)
    assert entry["status"] == "success" and entry["kind"] == "webhook"


def test_email_action_queues_mail_in_the_outbox(env: Env) -> None:
    item = env.rule(
        on="create",
        actions=[
            {
                "email": {
                    "to": "sales@example.com, ${Deals.Owner.email}",
                    "subject": "New deal ${Deals.Deal_Name}",
                    "body": "Amount: ${Deals.Amount}",
                }
            }
        ],
    )
    env.create(Deal_Name="Mailme", Amount=3)
    env.settle()
    [entry] = env.activity(item)
    assert entry["status"] == "success"
    mail = next(m for m in env.fx.outbox.list() if m["subject"] == "New deal Mailme")
    assert mail["to"] == ["sales@example.com", "admin@floodway.local"]
    assert mail["status"] == "pending" and mail["execution_id"] is None


def test_task_action_creates_a_related_task_owned_by_the_record_owner(env: Env) -> None:
    owner, _ = env.crm.users.create(f"own{env.crm.ids.next_id()}@example.com", last_name="Own")
    env.rule(
        module="Contacts",
        on="create",
        actions=[{"task": {"Subject": "Call ${Contacts.Last_Name}", "Due_Date": "+2d"}}],
    )
    deal_rule = env.rule(on="create", actions=[{"task": {"Subject": "Follow up"}}])
    cid = env.create("Contacts", Last_Name="Lovelace", Owner=owner.id)
    did = env.create()
    env.settle()
    tasks = env.crm.records.list("Tasks", per_page=200).data
    call = next(t for t in tasks if t["Subject"] == "Call Lovelace")
    assert call["Who_Id"]["id"] == cid
    assert call["Owner"]["id"] == owner.id
    due = (env.clock() + dt.timedelta(days=2)).date().isoformat()
    assert call["Due_Date"] == due
    follow = next(t for t in tasks if t["What_Id"] and t["What_Id"]["id"] == did)
    assert follow["$se_module"] == "Deals"
    assert env.activity(deal_rule)[0]["status"] == "success"


def test_function_failure_leaves_the_record_and_a_linked_failed_execution(env: Env) -> None:
    fn = env.function("String dealId", 'x = 1 / 0;\ninfo "never";')
    item = env.rule(on="create", actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}])
    rid = env.create(Deal_Name="Still here")
    env.settle()
    assert env.get(rid)["Deal_Name"] == "Still here"
    [run] = env.executions(fn)
    assert run["status"] == "failure"
    assert run["trigger"]["rule_id"] == item.id and run["trigger"]["record_id"] == rid


def test_a_failing_action_does_not_stop_the_next_one(env: Env) -> None:
    bad = env.function("String dealId", "x = 1 / 0;")
    good = recorder(env)
    env.rule(
        on="create",
        actions=[
            {"function": bad, "arguments": {"dealId": "${Deals.id}"}},
            {"function": good, "arguments": {"dealId": "${Deals.id}"}},
        ],
    )
    rid = env.create()
    env.settle()
    assert fired_for(env, good) == [rid]


def create_with_free_slots(env: Env, n: int) -> list[str]:
    """Create ``n`` deals with four job slots running, and wait for their jobs."""
    env.queue.stop()
    env.queue.start(concurrency=4)
    try:
        deals = [env.create() for _ in range(n)]
        env.settle()
    finally:
        env.queue.stop()
        env.queue.start(concurrency=1)
    return deals


def test_a_rules_instant_actions_run_one_after_another_in_manifest_order(env: Env) -> None:
    """Four job slots: the function still sees the first field update and not the second."""
    reader = env.function(
        "String dealId",
        'info zoho.crm.getRecordById("Deals", dealId.toLong()).get("Description");',
    )
    env.rule(
        on="create",
        actions=[
            {"field_update": {"Description": "first"}},
            {"function": reader, "arguments": {"dealId": "${Deals.id}"}},
            {"field_update": {"Description": "second"}},
        ],
    )
    deals = create_with_free_slots(env, 6)
    assert [e["info"] for e in env.executions(reader)] == [["first"]] * len(deals)
    assert all(env.get(rid)["Description"] == "second" for rid in deals)


# --------------------------------------------------------------------------- transactions


def action_keys(env: Env, rule_id: str) -> list[str]:
    T = auto_schema.action_runs
    with read_transaction(env.crm.engine) as conn:
        rows = conn.execute(sa.select(T.c.key).where(T.c.key.like(f"wf:{rule_id}:%")))
        return sorted(str(r.key) for r in rows)


def test_one_job_per_change_each_action_keyed_by_rule_event_and_index(env: Env) -> None:
    fn = recorder(env)
    first = env.rule(
        on="create",
        order=1,
        actions=[
            {"function": fn, "arguments": {"dealId": "${Deals.id}"}},
            {"field_update": {"Description": "x"}},
        ],
    )
    second = env.rule(on="create", order=2, actions=[{"field_update": {"Stage": "Closed Won"}}])
    bundles, lone = env.jobs_with_key("wfe:"), env.jobs_with_key("wf:")
    env.create()
    env.settle()
    assert env.jobs_with_key("wfe:") == bundles + 1  # the three actions of both rules
    assert env.jobs_with_key("wf:") == lone
    keys = action_keys(env, first.id)
    assert [k.rsplit(":", 1)[1] for k in keys] == ["0", "1"]
    assert len({k.rsplit(":", 1)[0] for k in keys}) == 1  # one event
    assert len(action_keys(env, second.id)) == 1
    third = env.rule(on="edit", actions=[{"field_update": {"Description": "edited"}}])
    rid = env.create()
    env.settle()
    env.update(rid, Amount=5)
    env.settle()
    # a lone action's job carries the action's own key
    assert env.jobs_with_key(f"wf:{third.id}:") == 1


def test_rules_of_one_change_run_in_their_order_with_free_slots(env: Env) -> None:
    """Four job slots: the second rule's function always sees the first rule's update."""
    reader = env.function(
        "String dealId",
        'info zoho.crm.getRecordById("Deals", dealId.toLong()).get("Description");',
    )
    env.rule(name="writes", on="create", order=1, actions=[{"field_update": {"Description": "1"}}])
    env.rule(
        name="reads",
        on="create",
        order=2,
        actions=[{"function": reader, "arguments": {"dealId": "${Deals.id}"}}],
    )
    deals = create_with_free_slots(env, 6)
    assert [e["info"] for e in env.executions(reader)] == [["1"]] * len(deals)


def test_a_write_that_rolls_back_enqueues_nothing(env: Env) -> None:
    fn = recorder(env)
    item = env.rule(on="create", actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}])

    def fail_after(event: object, conn: object) -> None:
        raise RuntimeError("a later step of the write failed")

    unsubscribe = env.crm.events.subscribe(fail_after)  # runs after the engine's subscriber
    try:
        with pytest.raises(RuntimeError):
            env.create(Deal_Name="Rolled back")
    finally:
        unsubscribe()
    env.settle()
    assert env.jobs_with_key(f"wf:{item.id}:") == 0
    assert env.executions(fn) == []
    assert all(
        d["Deal_Name"] != "Rolled back" for d in env.crm.records.list("Deals", per_page=200).data
    )
