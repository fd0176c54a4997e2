"""Validation rules (functions-platform.md §2.6) through the CRM's pre-write hook: what the
function receives, how its answer blocks or allows, fail-closed failures, rule order, bulk,
upsert, Deluge CRM tasks, and no Deluge inside the write transaction with re-validation of
records that changed meanwhile (security.md DOS-4). SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from floodway.automation.store import AutomationStore
from floodway.automation.validation import MAX_NESTING, Validations
from floodway.crm import schema as t
from floodway.crm.records import PendingWrite
from floodway.crm.service import Actor
from floodway.crm.testing import BACKENDS, admin_actor, crm, open_test_crm  # noqa: F401
from floodway.crm.writing import MSG_STALE
from floodway.db import write_transaction
from floodway.functions.service import Functions

from .sync_helpers import count_rows, deal, deploy, executions, standard_user, unique


@pytest.fixture(scope="module")
def fx(crm: Any) -> Functions:  # noqa: F811
    return Functions(crm)


@pytest.fixture(scope="module")
def store(crm: Any, fx: Functions) -> AutomationStore:  # noqa: F811
    return AutomationStore(crm, fx)


class Rules:
    """Validation rules created by one test (deleted after it) and the installed hook."""

    def __init__(self, store: AutomationStore) -> None:
        self.store = store
        self.ids: list[str] = []

    def add(self, function: str, module: str = "Deals", name: str | None = None) -> str:
        item = self.store.create(
            "validation", {"name": name or unique("Rule"), "module": module, "function": function}
        )
        self.ids.append(item.id)
        return item.name


@pytest.fixture()
def rules(crm: Any, fx: Functions, store: AutomationStore) -> Iterator[Rules]:  # noqa: F811
    v = Validations(crm, fx, store)
    v.attach()
    r = Rules(store)
    try:
        yield r
    finally:
        v.close()
        for item_id in r.ids:
            store.delete("validation", item_id)


def validator(fx: Functions, body: str, arg: str = "map crmAPIRequest", kind: str = "map") -> str:
    return deploy(fx, f"{kind} validation.{unique()}({arg})\n{{\n{body}\n}}\n")


POSITIVE = (
    '    r = crmAPIRequest.get("record");\n'
    '    if (r.get("Amount") != null && r.get("Amount") < 0)\n'
    '    {\n        return {"status": "error", "message": "Amount must be positive"};\n    }\n'
    '    return {"status": "success"};'
)


def blocked(rule: str, message: str) -> dict[str, Any]:
    return {
        "code": "INVALID_DATA",
        "details": {"validation_rule": rule},
        "message": message,
        "status": "error",
    }


def test_blocks_rows_and_writes_the_others(crm: Any, fx: Functions, rules: Rules) -> None:  # noqa: F811
    rule = rules.add(validator(fx, POSITIVE))
    before = count_rows(crm, "Deals")
    rows = [
        {"Deal_Name": unique(), "Stage": "Qualification", "Amount": -1},
        {"Deal_Name": unique(), "Stage": "Qualification", "Amount": 5},
        {"Deal_Name": unique(), "Stage": "Qualification", "Amount": -2},
        {"Deal_Name": unique()},  # missing Stage: the CRM's own error, in its place
    ]
    res = crm.records.create("Deals", rows, actor=admin_actor(crm))
    assert res[0] == blocked(rule, "Amount must be positive")
    assert res[1]["status"] == "success"
    assert res[2] == blocked(rule, "Amount must be positive")
    assert res[3]["code"] == "MANDATORY_NOT_FOUND"
    assert count_rows(crm, "Deals") == before + 1
    rid = res[1]["details"]["id"]
    res = crm.records.update("Deals", [{"Amount": -3}], record_id=rid, actor=admin_actor(crm))
    assert res == [blocked(rule, "Amount must be positive")]
    assert crm.records.get("Deals", rid)["Amount"] == 5.0
    ok = crm.records.update("Deals", [{"id": rid, "Amount": 7}], actor=admin_actor(crm))
    assert ok[0]["status"] == "success"


def test_request_holds_the_record_as_it_will_be_saved(
    crm: Any,  # noqa: F811
    fx: Functions,
    rules: Rules,
) -> None:
    api = validator(fx, '    info crmAPIRequest;\n    return {"status": "success"};')
    rid = deal(crm, Amount=10, Description="old text")
    rule = rules.add(api)
    user = standard_user(crm)
    actor = Actor(str(user.id))
    res = crm.records.update("Deals", [{"id": rid, "Amount": 20}], actor=actor)
    assert res[0]["status"] == "success"
    run = executions(fx, api)[0]
    request = json.loads(run["info"][0])
    assert request["module"] == "Deals" and request["operation"] == "update"
    assert request["user"] == {"id": str(user.id), "name": "Stan Dard", "email": user.email}
    record = request["record"]
    assert record["id"] == rid
    assert record["Amount"] == 20.0  # the submitted change
    assert record["Description"] == "old text"  # the stored value
    assert record["Stage"] == "Qualification"
    assert record["Owner"]["id"] == str(crm.primary_admin_id)
    assert run["run_as"] == str(user.id)
    assert run["trigger"] == {
        "type": "validation",
        "rule": rule,
        "module": "Deals",
        "record_id": rid,
        "operation": "update",
    }
    name = unique()
    crm.records.create("Deals", [{"Deal_Name": name, "Stage": "Closed Won"}], actor=actor)
    request = json.loads(executions(fx, api)[0]["info"][0])
    assert request["operation"] == "create"
    assert request["record"]["id"] is None
    assert request["record"]["Deal_Name"] == name
    assert executions(fx, api)[0]["trigger"]["record_id"] is None


def test_string_argument_gets_json_text(crm: Any, fx: Functions, rules: Rules) -> None:  # noqa: F811
    api = validator(
        fx,
        "    m = crmAPIRequest.toMap();\n"
        '    if (m.get("record").get("Deal_Name").startsWith("bad"))\n'
        '    {\n        return {"status": "error", "message": "text " + m.get("operation")};\n    }\n'
        "    return null;",
        "string crmAPIRequest",
    )
    rule = rules.add(api)
    res = crm.records.create(
        "Deals",
        [{"Deal_Name": "bad one", "Stage": "Qualification"}, {"Deal_Name": "good", "Stage": "x"}],
        actor=admin_actor(crm),
    )
    assert res[0] == blocked(rule, "text create")
    assert res[1]["status"] == "success"


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ('{"status": "error", "message": "m".leftpad(150).replaceAll(" ", "x")}', "x" * 100),
        ('{"status": "error"}', "Validation failed"),
        ('{"status": "error", "message": ""}', "Validation failed"),
        ('{"status": "ERROR", "message": 42}', "42"),
        ('{"status": "success", "message": "ignored"}', None),
        ('""', None),
        ("null", None),
    ],
)
def test_answers(crm: Any, fx: Functions, rules: Rules, answer: str, outcome: Any) -> None:  # noqa: F811
    api = validator(fx, f"    return {answer};", kind="string" if answer == '""' else "map")
    rule = rules.add(api)
    res = crm.records.create(
        "Deals", [{"Deal_Name": unique(), "Stage": "S"}], actor=admin_actor(crm)
    )
    if outcome is None:
        assert res[0]["status"] == "success"
    else:
        assert res[0] == blocked(rule, outcome)
    assert executions(fx, api)[0]["status"] == "success"


@pytest.mark.parametrize(
    "body",
    [
        '    m = Map();\n    return m.get("x").get("y");',  # runtime error
        '    return {"result": "ok"};',  # no status
        '    return {"status": "maybe"};',  # unknown status
        '    return "not json";',  # text that is no map
        "    return [1, 2];",  # not a map
    ],
)
def test_failures_block_and_are_recorded(
    crm: Any,  # noqa: F811
    fx: Functions,
    rules: Rules,
    body: str,
) -> None:
    kind = "string" if "not json" in body else "list" if "[1" in body else "map"
    api = validator(fx, body, kind=kind)
    rule = rules.add(api)
    before = count_rows(crm, "Deals")
    res = crm.records.create(
        "Deals", [{"Deal_Name": unique(), "Stage": "S"}], actor=admin_actor(crm)
    )
    assert res == [blocked(rule, f"Validation function '{api}' failed")]
    assert count_rows(crm, "Deals") == before
    run = executions(fx, api)[0]
    assert run["status"] == "failure"
    assert run["error"]["message"]


def test_rules_run_in_order_and_the_first_block_stops(
    crm: Any,  # noqa: F811
    fx: Functions,
    rules: Rules,
) -> None:
    first = validator(
        fx,
        '    if (crmAPIRequest.get("record").get("Deal_Name") == "stop")\n'
        '    {\n        return {"status": "error", "message": "first"};\n    }\n'
        '    return {"status": "success"};',
    )
    second = validator(fx, '    return {"status": "error", "message": "second"};')
    rule1 = rules.add(first)
    rule2 = rules.add(second)
    res = crm.records.create("Deals", [{"Deal_Name": "stop", "Stage": "S"}], actor=admin_actor(crm))
    assert res == [blocked(rule1, "first")]
    assert executions(fx, second) == []
    res = crm.records.create("Deals", [{"Deal_Name": "go", "Stage": "S"}], actor=admin_actor(crm))
    assert res == [blocked(rule2, "second")]
    assert len(executions(fx, second)) == 1


def test_rules_of_other_modules_do_not_run(crm: Any, fx: Functions, rules: Rules) -> None:  # noqa: F811
    api = validator(fx, '    return {"status": "error", "message": "no"};')
    rules.add(api, module="Accounts")
    assert deal(crm)  # a Deals write is not validated by an Accounts rule
    res = crm.records.create("Accounts", [{"Account_Name": unique()}], actor=admin_actor(crm))
    assert res[0]["code"] == "INVALID_DATA"


def test_upsert_is_an_update_when_the_record_exists(
    crm: Any,  # noqa: F811
    fx: Functions,
    rules: Rules,
) -> None:
    api = validator(
        fx,
        '    r = crmAPIRequest.get("record");\n'
        '    info crmAPIRequest.get("operation") + " " + r.get("id") + " " + r.get("Phone");\n'
        '    if (r.get("Phone") == "block")\n'
        '    {\n        return {"status": "error", "message": "blocked " + crmAPIRequest.get("operation")};\n    }\n'
        "    return null;",
    )
    rule = rules.add(api, module="Accounts")
    name = unique("Acc")
    admin = admin_actor(crm)
    created = crm.records.upsert("Accounts", [{"Account_Name": name, "Phone": "1"}], actor=admin)
    assert created[0]["action"] == "insert"
    rid = created[0]["details"]["id"]
    assert executions(fx, api)[0]["info"] == ["create  1"]
    by_name = crm.records.upsert("Accounts", [{"Account_Name": name, "Phone": "2"}], actor=admin)
    assert by_name[0]["action"] == "update" and by_name[0]["details"]["id"] == rid
    assert executions(fx, api)[0]["info"] == [f"update {rid} 2"]
    by_id = crm.records.upsert("Accounts", [{"id": rid, "Phone": "block"}], actor=admin)
    assert by_id == [blocked(rule, "blocked update")]
    other = crm.records.upsert(
        "Accounts", [{"Account_Name": unique(), "Phone": "block"}], actor=admin
    )
    assert other == [blocked(rule, "blocked create")]
    assert crm.records.get("Accounts", rid)["Phone"] == "2"


def test_deluge_crm_tasks_get_the_error_map(crm: Any, fx: Functions, rules: Rules) -> None:  # noqa: F811
    rule = rules.add(validator(fx, POSITIVE))
    caller = deploy(
        fx,
        f"string standalone.{unique()}()\n{{\n"
        '    res = zoho.crm.createRecord("Deals", {"Deal_Name": "via task", "Stage": "S", '
        '"Amount": -5});\n'
        "    return res;\n}\n",
    )
    out = fx.executor.run(caller, {})
    assert out.status == "success"
    assert json.loads(out.output_text or "") == blocked(rule, "Amount must be positive")


def test_no_deluge_inside_the_write_transaction(crm: Any, fx: Functions, rules: Rules) -> None:  # noqa: F811
    """The validation function writes a record itself: on SQLite (one writer) that only works
    because the save's transaction is not open yet."""
    subject = unique("Task")
    api = validator(
        fx,
        f'    t = zoho.crm.createRecord("Tasks", {{"Subject": "{subject}"}});\n'
        '    info t.get("id");\n'
        '    return {"status": "success"};',
    )
    rules.add(api)
    rid = deal(crm)
    assert crm.records.get("Deals", rid) is not None
    run = executions(fx, api)[0]
    assert run["status"] == "success" and run["info"][0].isdigit()
    assert crm.records.get("Tasks", run["info"][0])["Subject"] == subject


def test_close_removes_the_hook(crm: Any, fx: Functions, store: AutomationStore) -> None:  # noqa: F811
    v = Validations(crm, fx, store)
    v.attach()
    item = store.create(
        "validation",
        {
            "name": unique(),
            "module": "Deals",
            "function": validator(fx, '    return {"status": "error"};'),
        },
    )
    try:
        res = crm.records.create(
            "Deals", [{"Deal_Name": unique(), "Stage": "S"}], actor=admin_actor(crm)
        )
        assert res[0]["code"] == "INVALID_DATA"
        v.close()
        assert crm.records.before_write is None
        assert deal(crm)
    finally:
        v.close()
        store.delete("validation", item.id)


def test_validation_nesting_is_bounded(crm: Any, fx: Functions, rules: Rules) -> None:  # noqa: F811
    """A validation function whose own writes are validated again, without end, is stopped."""
    api = validator(
        fx,
        '    zoho.crm.createRecord("Deals", {"Deal_Name": "nested", "Stage": "S"});\n'
        '    return {"status": "success"};',
    )
    rules.add(api)
    rid = deal(crm)
    assert crm.records.get("Deals", rid) is not None
    skipped = [r for r in executions(fx, api) if r["status"] == "skipped"]
    assert len(skipped) == 1
    assert skipped[0]["error"]["message"] == (
        f"loop guard: validation rules nested {MAX_NESTING} deep"
    )


# ---- re-validation when a record changes between validation and write (DOS-4) ----------------


class Ticking:
    """A clock that moves 1 ms per reading, so every write has its own modified time."""

    def __init__(self) -> None:
        import datetime as dt

        self.now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        self.step = dt.timedelta(milliseconds=1)

    def __call__(self) -> Any:
        self.now += self.step
        return self.now


@pytest.fixture(params=BACKENDS)
def ticking_crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with open_test_crm(request.param, tmp_path / "crm", clock=Ticking()) as c:
        yield c


class TouchingHook:
    """Bumps the record's modified time while "validating" (as a concurrent writer would)."""

    def __init__(self, crm_: Any, times: int) -> None:
        self.crm = crm_
        self.times = times
        self.calls: list[list[PendingWrite]] = []

    def applies(self, module: str) -> bool:
        return module == "Deals"

    def check(self, module: str, writes: Any, actor: Any) -> dict[int, Any]:
        self.calls.append(list(writes))
        if len(self.calls) <= self.times:
            with write_transaction(self.crm.engine) as conn:
                for w in writes:
                    if w.record_id is not None:
                        conn.execute(
                            t.records.update()
                            .where(t.records.c.id == int(w.record_id))
                            .values(modified_time=t.records.c.modified_time + 1000)
                        )
        return {}


def test_changed_record_is_validated_again(ticking_crm: Any) -> None:
    crm_ = ticking_crm
    rid = deal(crm_)
    hook = TouchingHook(crm_, times=1)
    remove = crm_.records.set_before_write(hook)
    try:
        res = crm_.records.update("Deals", [{"id": rid, "Amount": 3}], actor=admin_actor(crm_))
    finally:
        remove()
    assert res[0]["status"] == "success"
    assert len(hook.calls) == 2  # validated, changed meanwhile, validated again, written
    assert crm_.records.get("Deals", rid)["Amount"] == 3.0


def test_record_that_keeps_changing_is_refused_after_three_rounds(ticking_crm: Any) -> None:
    crm_ = ticking_crm
    rid = deal(crm_)
    other = deal(crm_)
    hook = TouchingHook(crm_, times=99)
    remove = crm_.records.set_before_write(hook)
    try:
        res = crm_.records.update(
            "Deals",
            [{"id": rid, "Amount": 3}, {"id": other, "Amount": 4}],
            actor=admin_actor(crm_),
        )
    finally:
        remove()
    assert len(hook.calls) == 3
    assert res[0] == {
        "code": "INVALID_DATA",
        "details": {"json_path": "$.data[0]"},
        "message": MSG_STALE,
        "status": "error",
    }
    assert res[1]["code"] == "INVALID_DATA"
    assert crm_.records.get("Deals", rid)["Amount"] is None


def test_validation_function_that_changes_the_record_sees_its_change(ticking_crm: Any) -> None:
    """A rule's function updates the record it validates (once): the save validates again and
    then writes both changes."""
    crm_ = ticking_crm
    fx_ = Functions(crm_)
    store_ = AutomationStore(crm_, fx_)
    api = validator(
        fx_,
        '    r = crmAPIRequest.get("record");\n'
        '    if (r.get("id") != null && r.get("Description") != "touched")\n'
        "    {\n"
        '        zoho.crm.updateRecord("Deals", r.get("id"), {"Description": "touched"});\n'
        "    }\n"
        '    return {"status": "success"};',
    )
    store_.create("validation", {"name": "Touch", "module": "Deals", "function": api})
    rid = deal(crm_)
    v = Validations(crm_, fx_, store_)
    v.attach()
    try:
        res = crm_.records.update("Deals", [{"id": rid, "Amount": 9}], actor=admin_actor(crm_))
    finally:
        v.close()
    assert res[0]["status"] == "success"
    saved = crm_.records.get("Deals", rid)
    assert saved["Amount"] == 9.0 and saved["Description"] == "touched"
    runs = fx_.executions.list(function=api, limit=10)
    assert len(runs) == 3  # outer, nested (the function's own update), outer again


@pytest.fixture()
def pg_crm(tmp_path: Path) -> Iterator[Any]:
    with open_test_crm("postgresql", tmp_path / "crm") as c:
        yield c


def test_planning_takes_no_lock_on_postgresql(pg_crm: Any) -> None:
    """Validating an upsert (which takes the module's writer lock to write) while another
    transaction holds that lock (a PostgreSQL advisory lock): the validation still runs, as it
    reads without locks, and the blocked row never needs the lock."""
    crm_ = pg_crm
    mod = crm_.metadata.module("Accounts")
    seen: list[str] = []

    class Hook:
        def applies(self, module: str) -> bool:
            return True

        def check(self, module: str, writes: Any, actor: Any) -> dict[int, Any]:
            seen.append(module)
            return {0: {"code": "INVALID_DATA", "details": {}, "message": "no", "status": "error"}}

    remove = crm_.records.set_before_write(Hook())
    other = crm_.engine.connect()
    try:
        trans = other.begin()
        other.execute(sa.select(sa.func.pg_advisory_xact_lock(int(mod.id))))
        res = crm_.records.upsert("Accounts", [{"Account_Name": "x"}], actor=admin_actor(crm_))
        trans.rollback()
    finally:
        other.close()
        remove()
    assert seen == ["Accounts"] and res[0]["message"] == "no"


# ---- workflow field updates are validated too ---------------------------------------------------


@pytest.fixture(params=BACKENDS)
def wf_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    from .workflow_env import workflow_env

    with workflow_env(request.param, tmp_path) as env:
        yield env


def test_workflow_field_update_is_validated(wf_env: Any) -> None:
    env = wf_env
    api = validator(env.fx, POSITIVE)
    env.store.create("validation", {"name": "Positive", "module": "Deals", "function": api})
    v = Validations(env.crm, env.fx, env.store)
    v.attach()
    try:
        item = env.rule(on="create", actions=[{"field_update": {"Amount": "-5"}}])
        rid = env.create(Amount=7)
        env.settle()
    finally:
        v.close()
    assert env.get(rid)["Amount"] == 7  # the field update was blocked
    [entry] = env.activity(item)
    assert entry["status"] == "failure"
    assert "Amount must be positive" in entry["message"]
    runs = env.executions(api)
    assert [r["trigger"]["operation"] for r in runs] == ["create", "update"]
