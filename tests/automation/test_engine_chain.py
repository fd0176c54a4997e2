"""The loop guard (functions-platform.md §5) and exactly-once action runs (§8.4): chains cut at
depth 5, a rule fires once per record in a chain, suppressed firings are recorded with their
reason, a function action interrupted by a dying worker is reported and never run again, and
infrastructure errors before an action starts are retried.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from floodway.automation import runs
from floodway.crm.testing import BACKENDS
from floodway.db import write_transaction
from floodway.jobs import RetryLater

from .workflow_env import Env, clear_rules, job, workflow_env


@pytest.fixture(scope="module", params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with workflow_env(request.param, tmp_path_factory.mktemp("wf")) as e:
        yield e


@pytest.fixture(autouse=True)
def _own_rules(env: Env) -> Iterator[None]:
    yield
    clear_rules(env)


def test_function_updating_its_own_record_does_not_fire_its_rule_again(env: Env) -> None:
    fn = env.function(
        "String dealId",
        'zoho.crm.updateRecord("Deals", dealId, {"Description": "touched"}, '
        '{"trigger": {"workflow"}});\ninfo "ran";',
    )
    item = env.rule(
        name="Touch deal",
        on="create_or_edit",
        actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}],
    )
    rid = env.create()
    env.settle()
    runs_ = env.executions(fn)
    assert [r["status"] for r in runs_] == ["success", "skipped"]
    skipped = runs_[1]
    reason = f"loop guard: rule 'Touch deal' already ran for record {rid} in this chain"
    assert skipped["error"]["message"] == reason
    assert skipped["trigger"]["rule_id"] == item.id
    assert env.get(rid)["Description"] == "touched"
    [entry] = env.activity(item)
    assert entry["status"] == "skipped" and entry["message"] == reason
    assert entry["execution_id"] == skipped["id"]


def test_chain_is_cut_at_depth_five(env: Env) -> None:
    fn = env.function(
        "String dealId, String name",
        'zoho.crm.createRecord("Deals", {"Deal_Name": name + "+", "Stage": "Qualification"}, '
        '{"trigger": {"workflow"}});',
    )
    env.rule(
        name="Spawn",
        on="create",
        actions=[
            {"function": fn, "arguments": {"dealId": "${Deals.id}", "name": "${Deals.Deal_Name}"}}
        ],
    )
    env.create(Deal_Name="chain")
    env.settle()
    runs_ = env.executions(fn)
    assert [r["status"] for r in runs_] == ["success"] * 5 + ["skipped"]
    assert [r["chain_depth"] for r in runs_[:5]] == [1, 2, 3, 4, 5]
    assert len({r["chain_id"] for r in runs_}) == 1
    assert runs_[5]["error"]["message"] == "loop guard: chain depth 5 reached"
    names = {d["Deal_Name"] for d in env.crm.records.list("Deals", per_page=200).data}
    assert "chain+++++" in names and "chain++++++" not in names


def test_suppressed_non_function_actions_are_in_the_activity_log(env: Env) -> None:
    updater = env.function(
        "String dealId",
        'zoho.crm.updateRecord("Deals", dealId, {"Amount": 5}, {"trigger": {"workflow"}});',
    )
    env.rule(on="create", actions=[{"function": updater, "arguments": {"dealId": "${Deals.id}"}}])
    item = env.rule(
        name="Stamp",
        on="create_or_edit",
        actions=[{"field_update": {"Description": "stamped"}}],
    )
    rid = env.create()
    env.settle()
    entries = {e["status"]: e for e in env.activity(item)}
    assert sorted(entries) == ["skipped", "success"]
    assert entries["skipped"]["kind"] == "field_update"
    assert "already ran for record " + rid in entries["skipped"]["message"]


def test_depth_limit_is_a_setting(env: Env, tmp_path_factory: pytest.TempPathFactory) -> None:
    with workflow_env(
        env.backend, tmp_path_factory.mktemp("wf2"), workflow_max_chain_depth=2
    ) as small:
        fn = small.function(
            "String name",
            'zoho.crm.createRecord("Deals", {"Deal_Name": name + "+", "Stage": "Qualification"}, '
            '{"trigger": {"workflow"}});',
        )
        small.rule(on="create", actions=[{"function": fn, "arguments": {"name": "x"}}])
        small.create()
        small.settle()
        statuses = [r["status"] for r in small.executions(fn)]
        assert statuses == ["success", "success", "skipped"]


# --------------------------------------------------------------------------- exactly once


def _instant_args(env: Env, item_id: str, rid: str, index: int = 0) -> dict[str, object]:
    return {
        "rule_id": item_id,
        "index": index,
        "module": "Deals",
        "record_id": rid,
        "user_id": str(env.crm.primary_admin_id),
        "chain": [rid, 1],
        "trigger_ms": env.crm.now_ms(),
        "record": env.get(rid),
    }


def test_recovered_function_action_is_reported_interrupted_not_run_again(env: Env) -> None:
    fn = env.function("String dealId", 'info "ran " + dealId;')
    item = env.rule(on="edit", actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}])
    rid = env.create()
    env.settle()
    key = f"wf:{item.id}:{env.crm.ids.next_id()}:0"
    execution_id = str(env.crm.ids.next_id())
    with write_transaction(env.crm.engine) as conn:  # started, then the worker died
        runs.start(conn, key, env.crm.now_ms(), int(execution_id))
    env.engine.handle(job(key, _instant_args(env, item.id, rid), recovered=True))
    rec = env.fx.executions.get(execution_id)
    assert rec["status"] == "failure"
    assert rec["error"]["kind"] == "interrupted"
    assert rec["error"]["message"].startswith(
        "the worker running this execution stopped before it finished; it was not run again"
    )
    assert rec["trigger"]["rule_id"] == item.id and rec["arguments"] == {"dealId": rid}
    assert [r["status"] for r in env.executions(fn)] == ["failure"]  # not run again
    again = env.fx.executor.rerun(execution_id)
    assert again.status == "success" and again.info == [f"ran {rid}"]
    assert env.engine.activity(rule_id=item.id)[0]["status"] == "interrupted"
    env.engine.handle(job(key, _instant_args(env, item.id, rid), recovered=True))
    assert len(env.executions(fn)) == 2  # the finished key stays finished


def test_interrupted_execution_with_a_running_row_becomes_a_failure(env: Env) -> None:
    fn = env.function("String dealId", 'info "ran";')
    item = env.rule(on="edit", actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}])
    rid = env.create()
    key = f"wf:{item.id}:{env.crm.ids.next_id()}:0"
    execution_id = env.crm.ids.next_id()
    live = env.fx.registry.live(fn)
    assert live is not None
    executor = env.fx.executor
    user = executor.user(None)
    row = executor._running_row(
        execution_id, live, {"dealId": rid}, {"type": "workflow"}, user, None, 0, (rid, 1)
    )
    env.fx.executions.insert_running([row])
    with write_transaction(env.crm.engine) as conn:
        runs.start(conn, key, env.crm.now_ms(), execution_id)
    env.engine.handle(job(key, _instant_args(env, item.id, rid), recovered=True))
    rec = env.fx.executions.get(str(execution_id))
    assert rec["status"] == "failure" and rec["error"]["kind"] == "interrupted"
    assert [r["status"] for r in env.executions(fn)] == ["failure"]


def test_a_field_update_delivered_twice_is_written_once(env: Env) -> None:
    item = env.rule(on="edit", actions=[{"task": {"Subject": "Once only"}}])
    rid = env.create()
    key = f"wf:{item.id}:{env.crm.ids.next_id()}:0"
    args = _instant_args(env, item.id, rid)
    env.engine.handle(job(key, args))
    env.engine.handle(job(key, args, recovered=True))
    tasks = [t for t in env.crm.records.list("Tasks", per_page=200).data]
    assert sum(1 for t in tasks if t["Subject"] == "Once only") == 1
    assert [e["status"] for e in env.activity(item)] == ["success"]


def test_database_errors_before_the_action_starts_are_retried(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = env.rule(on="edit", actions=[{"field_update": {"Description": "x"}}])
    rid = env.create()

    def unreachable(*args: object, **kw: object) -> object:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(env.store, "get", unreachable)
    monkeypatch.setattr(env.store, "active", unreachable)  # the cached rules are read first
    with pytest.raises(RetryLater):
        env.engine.handle(job("k" + rid, _instant_args(env, item.id, rid)))


def test_a_retried_change_job_does_not_repeat_the_actions_it_had_run(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    fn = env.function("String dealId", 'info "ran " + dealId;')
    item = env.rule(
        on="edit",
        actions=[
            {"function": fn, "arguments": {"dealId": "${Deals.id}"}},
            {"field_update": {"Description": "second"}},
        ],
    )
    rid = env.create()
    event = str(env.crm.ids.next_id())
    actions = [
        {**_instant_args(env, item.id, rid, index), "key": f"wf:{item.id}:{event}:{index}"}
        for index in (0, 1)
    ]
    real = env.engine.runner.field_update

    def unreachable(*args: object, **kw: object) -> object:
        raise sa.exc.OperationalError("UPDATE records", {}, Exception("connection refused"))

    monkeypatch.setattr(env.engine.runner, "field_update", unreachable)
    with pytest.raises(RetryLater):  # the database went away before the second action
        env.engine.handle(job(f"wfe:{event}", {"actions": actions}))
    assert [r["info"] for r in env.executions(fn)] == [[f"ran {rid}"]]
    monkeypatch.setattr(env.engine.runner, "field_update", real)
    env.engine.handle(job(f"wfe:{event}", {"actions": actions}, recovered=True))
    assert len(env.executions(fn)) == 1  # the function is not run again
    assert env.get(rid)["Description"] == "second"


def test_a_database_error_in_one_rule_holds_only_that_rules_later_actions(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    fn = env.function("String dealId", 'info "ran " + dealId;')
    first = env.rule(
        name="updates first",
        on="edit",
        order=1,
        actions=[
            {"field_update": {"Description": "one"}},
            {"function": fn, "arguments": {"dealId": "${Deals.id}"}},
        ],
    )
    second = env.rule(
        name="then calls",
        on="edit",
        order=2,
        actions=[{"function": fn, "arguments": {"dealId": "${Deals.id}"}}],
    )
    rid = env.create()
    event = str(env.crm.ids.next_id())
    actions = [
        {**_instant_args(env, item.id, rid, index), "key": f"wf:{item.id}:{event}:{index}"}
        for item, index in ((first, 0), (first, 1), (second, 0))
    ]
    real = env.engine.runner.field_update

    def unreachable(*args: object, **kw: object) -> object:
        raise sa.exc.OperationalError("UPDATE records", {}, Exception("connection refused"))

    monkeypatch.setattr(env.engine.runner, "field_update", unreachable)
    with pytest.raises(RetryLater):
        env.engine.handle(job(f"wfe:{event}", {"actions": actions}))
    # The second rule ran; the first rule's function waits behind its failed update.
    assert [r["trigger"]["rule_id"] for r in env.executions(fn)] == [second.id]
    monkeypatch.setattr(env.engine.runner, "field_update", real)
    env.engine.handle(job(f"wfe:{event}", {"actions": actions}, recovered=True))
    assert env.get(rid)["Description"] == "one"
    ran = sorted(r["trigger"]["rule_id"] for r in env.executions(fn))
    assert ran == sorted([first.id, second.id])  # each once
