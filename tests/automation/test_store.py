"""The automation rule store on SQLite and PostgreSQL: definitions validated with the project
readers against the org, unique names, rule order, the cache of active items, and deploy's
``apply`` / pull's ``export``."""

from __future__ import annotations

import datetime as _dt
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from floodway.automation import schema as auto_tables
from floodway.automation.errors import AutomationError
from floodway.automation.store import UNORDERED, AutomationStore
from floodway.crm import Crm
from floodway.crm.testing import crm, fresh_crm  # noqa: F401  (fixtures)
from floodway.db import write_transaction
from floodway.functions.service import Functions
from floodway.project import FunctionSignature, Project, Schedule, Workflow, load_project
from floodway.project.toml_writer import write_trigger_tables

ROLLUP = "void automation.rollup(Int accountId)\n{\n    info accountId;\n}\n"
NIGHTLY = 'void schedule.nightly()\n{\n    info "night";\n}\n'
CREATE_PROJECT = 'string button.create_project(Int dealId)\n{\n    return "ok";\n}\n'
CHECK_DEAL = (
    'map validation.check_deal(map crmAPIRequest)\n{\n    return {"status": "success"};\n}\n'
)
SOURCES = {
    "rollup": ROLLUP,
    "nightly": NIGHTLY,
    "create_project": CREATE_PROJECT,
    "check_deal": CHECK_DEAL,
}


def rule(name: str, **extra: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "name": name,
        "module": "Deals",
        "on": "create_or_edit",
        "criteria": "(Stage:equals:Closed Won)",
        "actions": [{"function": "rollup", "arguments": {"accountId": "${Deals.Account_Name.id}"}}],
    }
    table.update(extra)
    return table


def account_rule(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "module": "Accounts",
        "on": "create",
        "actions": [{"field_update": {"Industry": "Retail"}}],
    }


def publish(fx: Functions, sources: dict[str, str]) -> None:
    for name, source in sources.items():
        if fx.registry.find(name) is None:
            fx.registry.save(name, source, publish=True, create=True)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(crm: Crm) -> Iterator[AutomationStore]:  # noqa: F811
    fx = Functions(crm)
    publish(fx, SOURCES)
    yield AutomationStore(crm, fx)


@pytest.fixture
def fresh(fresh_crm: Crm) -> AutomationStore:  # noqa: F811
    fx = Functions(fresh_crm)
    publish(fx, SOURCES)
    return AutomationStore(fresh_crm, fx)


def error(fn: Any, *args: Any, **kwargs: Any) -> AutomationError:
    with pytest.raises(AutomationError) as caught:
        fn(*args, **kwargs)
    return caught.value


# ---------------------------------------------------------------------------------------------
# CRUD


def test_create_get_update_delete_round_trip(store: AutomationStore) -> None:
    item = store.create("workflow", rule("Round trip", module="deals"))
    assert item.kind == "workflow" and item.enabled and item.module == "Deals"
    assert isinstance(item.spec, Workflow) and item.spec.module == "Deals"
    assert item.definition["module"] == "deals"  # stored as written
    got = store.get("workflow", item.id)
    assert got.definition == item.definition and got.spec == item.spec
    body = store.item_json(got)
    assert body["id"] == item.id and body["enabled"] is True
    assert body["created_time"].endswith("Z") and body["name"] == "Round trip"
    assert body["actions"] == item.definition["actions"]

    updated = store.update(
        "workflow", item.id, rule("Round trip", criteria="(Amount:greater_than:5)")
    )
    assert updated.id == item.id and updated.spec.criteria == "(Amount:greater_than:5)"
    assert updated.modified_ms > item.modified_ms and updated.created_ms == item.created_ms
    assert store.get("workflow", item.id).definition["criteria"] == "(Amount:greater_than:5)"

    store.delete("workflow", item.id)
    assert error(store.get, "workflow", item.id).code == "NOT_FOUND"
    assert error(store.delete, "workflow", item.id).code == "NOT_FOUND"
    assert error(store.get, "workflow", "not-a-number").http_status == 404
    # An id of another kind is not found either.
    button = store.create(
        "button",
        {"name": "Kind check", "module": "Deals", "function": "create_project"},
    )
    assert error(store.get, "workflow", button.id).code == "NOT_FOUND"


def test_null_values_are_absent_keys(store: AutomationStore) -> None:
    item = store.create("workflow", rule("Nulls", criteria=None, order=None))
    assert "criteria" not in item.definition and item.spec.criteria is None


# ---------------------------------------------------------------------------------------------
# Validation: the project readers' problems, naming the offending part


@pytest.mark.parametrize(
    ("kind", "table", "field", "words"),
    [
        ("workflow", rule("Bad criteria", criteria="(Stage:equals"), "criteria", "column"),
        (
            "workflow",
            rule(
                "Bad merge",
                actions=[{"function": "rollup", "arguments": {"accountId": "${Deals.Nope}"}}],
            ),
            "actions[0].arguments.accountId",
            'unknown field "Nope" in module Deals',
        ),
        (
            "workflow",
            rule("Wrong module", module="Dealz"),
            "module",
            'unknown module "Dealz"',
        ),
        (
            "workflow",
            rule(
                "Wrong category",
                actions=[{"after": "1d", "field_update": {"Stage": "X"}}, {"function": "nightly"}],
            ),
            "actions[1].function",
            "a workflow action needs an automation function",
        ),
        (
            "workflow",
            rule("Missing fn", actions=[{"function": "nowhere"}]),
            "actions[0].function",
            'function "nowhere" does not exist',
        ),
        (
            "workflow",
            rule(
                "Bad argument",
                actions=[{"function": "rollup", "arguments": {"dealId": "${Deals.id}"}}],
            ),
            "actions[0].arguments.dealId",
            "is not a parameter of rollup",
        ),
        ("workflow", rule("Typo", criterias="x"), "criterias", 'unknown key "criterias"'),
        (
            "schedule",
            {"name": "Bad cron", "function": "nightly", "cron": "61 * * * *"},
            "cron",
            "minute field",
        ),
        (
            "schedule",
            {"name": "Wrong fn", "function": "rollup", "daily": "02:00"},
            "function",
            "a schedule needs a schedule function",
        ),
        (
            "button",
            {
                "name": "List ids",
                "module": "Deals",
                "function": "create_project",
                "arguments": {"dealId": "${Deals.id}"},
                "placement": "list",
            },
            "arguments.dealId",
            "list button",
        ),
        (
            "validation",
            {"name": "No fn", "module": "Deals"},
            "function",
            'missing required key "function"',
        ),
        (
            "related_list",
            {"name": "Wrong fn", "module": "Accounts", "function": "create_project"},
            "function",
            "a related list needs a related_list function",
        ),
    ],
)
def test_invalid_definitions_name_the_part(
    store: AutomationStore, kind: str, table: dict[str, Any], field: str, words: str
) -> None:
    exc = error(store.create, kind, table)
    assert exc.code == "INVALID_DATA" and exc.http_status == 400
    assert exc.details["field"] == field
    assert words in exc.message
    assert exc.to_json() == {
        "code": "INVALID_DATA",
        "details": exc.details,
        "message": exc.message,
        "status": "error",
    }
    assert all(i.name != table.get("name") for i in store.list(kind))


def test_several_problems_are_all_listed(store: AutomationStore) -> None:
    exc = error(store.create, "workflow", rule("Many", on="sometimes", repeat="twice"))
    fields = [p["field"] for p in exc.details["problems"]]
    assert fields == ["on", "repeat"] and exc.details["field"] == "on"


def test_a_draft_function_cannot_be_attached(store: AutomationStore) -> None:
    source = "void automation.draft_only(Int accountId)\n{\n    info 1;\n}\n"
    if store.functions.registry.find("draft_only") is None:
        store.functions.registry.save("draft_only", source, create=True)
    exc = error(store.create, "workflow", rule("Draft", actions=[{"function": "draft_only"}]))
    assert exc.details["field"] == "actions[0].function"
    assert "has no published version" in exc.message


def test_the_body_must_be_an_object_and_the_kind_known(store: AutomationStore) -> None:
    assert error(store.create, "workflow", ["x"]).code == "INVALID_DATA"
    assert error(store.create, "macro", {"name": "x"}).code == "INVALID_DATA"
    assert error(store.create, "workflow", rule("x" * 201)).details["field"] == "name"


# ---------------------------------------------------------------------------------------------
# Unique names and order


def test_same_kind_module_and_name_is_a_duplicate(store: AutomationStore) -> None:
    first = store.create("workflow", rule("Unique rule"))
    exc = error(store.create, "workflow", rule("unique RULE"))
    assert exc.code == "DUPLICATE_DATA" and exc.http_status == 409
    assert exc.details == {"field": "name"} and "Deals" in exc.message
    # Another module or another kind may use the name.
    store.create(
        "workflow",
        account_rule("Unique rule"),
    )
    store.create("validation", {"name": "Unique rule", "module": "Deals", "function": "check_deal"})
    other = store.create("workflow", rule("Renamed later"))
    assert error(store.update, "workflow", other.id, rule("Unique Rule")).code == "DUPLICATE_DATA"
    assert store.update(
        "workflow", first.id, rule("Unique rule", repeat="first_time")
    ).spec.repeat == ("first_time")


def test_rule_order_workflows_by_order_then_creation_others_by_creation(
    fresh: AutomationStore,
) -> None:
    late = fresh.create("workflow", rule("No order A"))
    second = fresh.create("workflow", rule("Order 2", order=2))
    also_unordered = fresh.create("workflow", rule("No order B"))
    first = fresh.create("workflow", rule("Order 1", order=1))
    elsewhere = fresh.create(
        "workflow",
        account_rule("Accounts rule"),
    )
    names = [i.name for i in fresh.list("workflow", module="deals")]
    assert names == ["Order 1", "Order 2", "No order A", "No order B"]
    assert late.position == also_unordered.position == UNORDERED
    assert (first.position, second.position) == (1, 2)
    assert [i.name for i in fresh.list("workflow", module="Accounts")] == [elsewhere.name]
    # Reordering through an update moves the rule.
    fresh.update("workflow", late.id, rule("No order A", order=0))
    assert fresh.list("workflow", module="Deals")[0].name == "No order A"

    v = [
        fresh.create("validation", {"name": n, "module": "Deals", "function": "check_deal"})
        for n in "zyx"
    ]
    assert [i.name for i in fresh.list("validation")] == ["z", "y", "x"]
    assert [i.position for i in v] == [1, 2, 3]


# ---------------------------------------------------------------------------------------------
# Enabled state and the active cache


def test_active_lists_enabled_items_and_drops_its_cache_on_local_writes(
    fresh: AutomationStore,
) -> None:
    a = fresh.create("workflow", rule("Active A"))
    b = fresh.create("workflow", rule("Active B"), enabled=False)
    assert not b.enabled
    assert [i.name for i in fresh.active("workflow", "deals")] == ["Active A"]
    assert fresh.active("workflow", "Accounts") == [] and fresh.active("button") == []
    fresh.set_enabled("workflow", b.id, True)
    assert [i.name for i in fresh.active("workflow", "Deals")] == ["Active A", "Active B"]
    disabled = fresh.set_enabled("workflow", a.id, False)
    assert disabled.enabled is False and not fresh.get("workflow", a.id).enabled
    assert [i.name for i in fresh.active("workflow")] == ["Active B"]
    fresh.delete("workflow", b.id)
    assert fresh.active("workflow") == []


def test_other_processes_see_changes_within_the_cache_ttl(fresh: AutomationStore) -> None:
    clock = FakeMonotonic()
    other = AutomationStore(fresh.crm, fresh.functions, monotonic=clock)
    assert other.active("workflow") == []
    fresh.create("workflow", rule("Seen later"))
    assert other.active("workflow") == []  # cached
    clock.now += other.cache_ttl_s + 0.01
    assert [i.name for i in other.active("workflow")] == ["Seen later"]


def test_a_stored_definition_that_no_longer_parses_is_listed_but_never_active(
    fresh: AutomationStore,
) -> None:
    good = fresh.create("workflow", rule("Fine"))
    T = auto_tables.automation_items
    with write_transaction(fresh.crm.engine) as conn:
        conn.execute(
            T.update()
            .where(T.c.id == int(good.id))
            .values(definition={"name": "Fine", "module": "Deals"}, modified_ms=T.c.modified_ms + 1)
        )
    fresh.invalidate()
    [item] = fresh.list("workflow")
    assert item.spec is None and item.problem == 'on: missing required key "on"'
    assert "problem" in fresh.item_json(item)
    assert fresh.active("workflow") == []


def test_schedules_show_their_next_five_runs(store: AutomationStore) -> None:
    item = store.create(
        "schedule",
        {
            "name": "Nightly run",
            "function": "nightly",
            "cron": "0 2 * * *",
            "timezone": "Europe/Berlin",
        },
    )
    assert isinstance(item.spec, Schedule)
    now = _dt.datetime(2026, 3, 27, 12, 0, tzinfo=_dt.UTC)
    body = item.to_json(now)
    # 29 March 2026: 02:00 does not exist in Berlin (clocks go forward), so it is skipped.
    assert body["next_runs"] == [
        "2026-03-28T01:00:00.000Z",
        "2026-03-30T00:00:00.000Z",
        "2026-03-31T00:00:00.000Z",
        "2026-04-01T00:00:00.000Z",
        "2026-04-02T00:00:00.000Z",
    ]
    assert item.module is None and "module" not in body
    assert len(store.item_json(item)["next_runs"]) == 5


# ---------------------------------------------------------------------------------------------
# Deploy and pull


MANIFEST = """
[[workflow]]
name = "Roll up revenue"
module = "Deals"
on = "create_or_edit"
criteria = "(Stage:equals:Closed Won)"

[[workflow.actions]]
function = "rollup"
arguments = { accountId = "${Deals.Account_Name.id}" }

[[button]]
name = "Create project"
module = "Deals"
function = "create_project"
arguments = { dealId = "${Deals.id}" }

[[validation]]
name = "First"
module = "Deals"
function = "check_deal"

[[validation]]
name = "Second"
module = "Deals"
function = "check_deal"

[[schedule]]
name = "Nightly"
function = "nightly"
cron = "0 2 * * *"
"""


def load_dir(store: AutomationStore, root: Path) -> Project:
    """``root`` loaded against the store's org, as deploy loads it."""
    md = store.crm.metadata
    schema = {m.api_name: md.field_types(m) for m in md.modules()}
    signatures = {
        f.api_name: FunctionSignature(f.category, tuple((n, t or "") for n, t in f.arguments))
        for f in store.functions.registry.list()
    }
    return load_project(root, schema=schema, org_functions=signatures)


def load(store: AutomationStore, root: Path, text: str) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    (root / "floodway.toml").write_text(textwrap.dedent(text), "utf-8")
    return load_dir(store, root)


def names(result: dict[str, Any], action: str) -> list[tuple[str, str]]:
    return [(e["kind"], e["name"]) for e in result[action]]


def test_apply_makes_the_org_equal_to_the_project(fresh: AutomationStore, tmp_path: Path) -> None:
    by_hand = fresh.create("workflow", rule("Made in the console"))
    project = load(fresh, tmp_path / "p", MANIFEST)

    dry = fresh.apply(project, dry_run=True)
    assert names(dry, "deleted") == [("workflow", "Made in the console")]
    assert len(dry["created"]) == 5 and fresh.get("workflow", by_hand.id)  # nothing written

    result = fresh.apply(project)
    assert result == dry
    assert {"kind": "schedule", "module": None, "name": "Nightly"} in result["created"]
    assert [i.name for i in fresh.list("workflow")] == ["Roll up revenue"]
    assert [i.name for i in fresh.active("validation", "Deals")] == ["First", "Second"]
    assert fresh.list("button")[0].definition == project.tables["button"][0]

    # Disabled in the console: a redeploy keeps that, and changes nothing.
    rollup = fresh.list("workflow")[0]
    fresh.set_enabled("workflow", rollup.id, False)
    again = fresh.apply(load(fresh, tmp_path / "p", MANIFEST))
    assert again["created"] == again["updated"] == again["deleted"] == []
    assert len(again["unchanged"]) == 5
    assert fresh.get("workflow", rollup.id).enabled is False

    # A changed criteria updates in place; swapped validations swap their run order.
    edited = MANIFEST.replace("Closed Won", "Closed Lost").replace('"First"', '"Tmp"')
    edited = edited.replace('"Second"', '"First"').replace('"Tmp"', '"Second"')
    third = fresh.apply(load(fresh, tmp_path / "p", edited))
    assert names(third, "updated") == [
        ("workflow", "Roll up revenue"),
        ("validation", "Second"),
        ("validation", "First"),
    ]
    assert fresh.get("workflow", rollup.id).spec.criteria == "(Stage:equals:Closed Lost)"
    assert [i.name for i in fresh.list("validation")] == ["Second", "First"]


def test_export_is_what_pull_writes_and_deploying_it_changes_nothing(
    fresh: AutomationStore, tmp_path: Path
) -> None:
    fresh.create(
        "workflow",
        rule(
            "Webhook rule",
            actions=[
                {
                    "webhook": {
                        "url": "https://example.com/x",
                        "headers": {"X-Key": "k"},
                        "body": '{"id": "${Deals.id}"}',
                    }
                }
            ],
        ),
    )
    fresh.create("workflow", rule("Ordered", order=3, fields=["Stage"], on="field_update"))
    fresh.create(
        "schedule",
        {"name": "Weekly", "function": "nightly", "weekly": "mon 02:00", "catch_up": True},
    )
    exported = fresh.export()
    assert [t["name"] for t in exported["workflow"]] == ["Webhook rule", "Ordered"]
    assert exported["schedule"] == [
        {"name": "Weekly", "function": "nightly", "weekly": "mon 02:00", "catch_up": True}
    ]
    root = tmp_path / "pulled"
    root.mkdir()
    assert write_trigger_tables(root, exported).changed
    result = fresh.apply(load_dir(fresh, root))
    assert result["created"] == result["updated"] == result["deleted"] == []
    assert len(result["unchanged"]) == 3
    assert not write_trigger_tables(root, fresh.export()).changed


def test_apply_counts_and_positions_in_the_database(fresh: AutomationStore, tmp_path: Path) -> None:
    fresh.apply(load(fresh, tmp_path / "p", MANIFEST))
    T = auto_tables.automation_items
    with fresh.crm.engine.connect() as conn:
        rows = conn.execute(
            sa.select(T.c.kind, T.c.module, T.c.position).order_by(T.c.kind, T.c.position)
        ).all()
    assert [(r.kind, r.module, r.position) for r in rows] == [
        ("button", "Deals", 1),
        ("schedule", "", 1),
        ("validation", "Deals", 1),
        ("validation", "Deals", 2),
        ("workflow", "Deals", UNORDERED),
    ]


def test_move_changes_the_run_order_within_the_module(fresh: AutomationStore) -> None:
    a = fresh.create("workflow", rule("A", order=5))
    b = fresh.create("workflow", rule("B"))  # no order: after every ordered rule
    c = fresh.create("workflow", rule("C", order=9))
    other = fresh.create("workflow", account_rule("On accounts"))

    def names() -> list[str]:
        return [i.name for i in fresh.list("workflow", module="Deals")]

    assert names() == ["A", "C", "B"]
    moved = fresh.move("workflow", b.id, -1)
    assert names() == ["A", "B", "C"]
    # Every rule of the module now says its place in its definition (what a pull writes).
    assert [i.definition["order"] for i in fresh.list("workflow", module="Deals")] == [1, 2, 3]
    assert moved.spec.order == 2 and moved.position == 2
    assert [i.name for i in fresh.active("workflow", "Deals")] == ["A", "B", "C"]
    fresh.move("workflow", a.id, -1)  # already first: nothing changes
    fresh.move("workflow", c.id, 1)  # already last
    assert names() == ["A", "B", "C"]
    fresh.move("workflow", a.id, 1)
    assert names() == ["B", "A", "C"]
    assert "order" not in fresh.get("workflow", other.id).definition  # another module
    with pytest.raises(AutomationError):
        fresh.move("workflow", a.id, 2)

    first = fresh.create("validation", {"name": "V1", "module": "Deals", "function": "check_deal"})
    second = fresh.create("validation", {"name": "V2", "module": "Deals", "function": "check_deal"})
    fresh.move("validation", second.id, -1)
    assert [i.name for i in fresh.list("validation", module="Deals")] == ["V2", "V1"]
    assert fresh.get("validation", first.id).definition == {
        "name": "V1",
        "module": "Deals",
        "function": "check_deal",
    }
