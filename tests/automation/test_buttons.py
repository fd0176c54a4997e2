"""Buttons (functions-platform.md §2.3): arguments from the record or the selected ids, the
message and URL shown after a click, failures, placement rules and who may click (AZ-3).
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from floodway.automation.buttons import Buttons
from floodway.automation.errors import AutomationError
from floodway.automation.store import AutomationStore
from floodway.crm.testing import crm  # noqa: F401  (fixture)
from floodway.functions.service import Functions

from .sync_helpers import deal, deploy, executions, standard_user, unique, user_without


@pytest.fixture(scope="module")
def fx(crm: Any) -> Functions:  # noqa: F811
    return Functions(crm)


@pytest.fixture(scope="module")
def store(crm: Any, fx: Functions) -> AutomationStore:  # noqa: F811
    return AutomationStore(crm, fx)


@pytest.fixture(scope="module")
def buttons(crm: Any, fx: Functions, store: AutomationStore) -> Buttons:  # noqa: F811
    return Buttons(crm, fx, store)


def button(store: AutomationStore, function: str, placement: str = "detail", **args: str) -> str:
    table = {
        "name": unique("Button"),
        "module": "Deals",
        "function": function,
        "placement": placement,
        "arguments": args,
    }
    return store.create("button", table).id


def test_detail_button_message_url_and_trigger(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    buttons: Buttons,
) -> None:
    api = deploy(
        fx,
        f"string button.{unique()}(String dealId, String name, Decimal amount, String who)\n"
        "{\n"
        '    openUrl("https://first.example.com/" + dealId, "new window");\n'
        '    openUrl("https://projects.example.com/" + dealId, "same window");\n'
        '    return "Project for " + name + " (" + amount + ") by " + who + " " + zoho.loginuserid;\n'
        "}\n",
    )
    bid = button(
        store,
        api,
        dealId="${Deals.id}",
        name="${Deals.Deal_Name}",
        amount="${Deals.Amount}",
        who="${Deals.Owner.name}",
    )
    rid = deal(crm, Deal_Name="Big deal", Amount=1250.5)
    user = standard_user(crm)
    out = buttons.run(bid, [rid], str(user.id))
    assert out["message"] == f"Project for Big deal (1250.5) by Admin {user.email}"
    assert out["url"] == f"https://projects.example.com/{rid}"  # the last openUrl
    run = fx.executions.get(out["execution_id"])
    assert run["status"] == "success"
    assert run["trigger"] == {
        "type": "button",
        "button": store.get("button", bid).name,
        "module": "Deals",
        "record_id": rid,
    }
    assert run["run_as"] == str(user.id)  # the clicking user


def test_list_button_selected_ids_as_text_and_as_list(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    buttons: Buttons,
) -> None:
    text_fn = deploy(
        fx,
        f"string button.{unique()}(String ids)\n{{\n"
        '    return ids.toList(",").size() + " selected: " + ids;\n}\n',
    )
    list_fn = deploy(
        fx,
        f"string button.{unique()}(List ids)\n{{\n"
        '    return "count " + ids.size() + " first " + ids.get(0);\n}\n',
    )
    ids = [deal(crm), deal(crm), deal(crm)]
    admin = str(crm.primary_admin_id)
    out = buttons.run(button(store, text_fn, "list", ids="${selected_ids}"), ids, admin)
    assert out["message"] == f"3 selected: {','.join(ids)}"
    out = buttons.run(button(store, list_fn, "list", ids="${selected_ids}"), ids, admin)
    assert out["message"] == f"count 3 first {ids[0]}"
    run = fx.executions.get(out["execution_id"])
    assert run["trigger"]["record_id"] is None


def test_message_text_forms_and_limit(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    buttons: Buttons,
) -> None:
    rid = deal(crm)
    admin = str(crm.primary_admin_id)
    cases = {
        'return "";': None,
        "return null;": None,
        'return "x".leftpad(1500).replaceAll(" ", "y");': "y" * 1000,
        "return 42;": "42",
        'return {"a": 1};': '{"a":1}',
    }
    for body, expected in cases.items():
        api = deploy(fx, f"string button.{unique()}(String id)\n{{\n    {body}\n}}\n")
        out = buttons.run(button(store, api, id="${Deals.id}"), [rid], admin)
        assert out["message"] == expected, body
        assert out["url"] is None
    long_fn = deploy(fx, f'string button.{unique()}()\n{{\n    return "z".leftpad(2000);\n}}\n')
    out = buttons.run(button(store, long_fn), [rid], admin)
    assert len(out["message"]) == 1000


def test_failing_function_reads_the_function_failed(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    buttons: Buttons,
) -> None:
    api = deploy(
        fx,
        f"string button.{unique()}(Int n)\n{{\n"
        '    openUrl("https://never.example.com", "new window");\n'
        "    x = 10 / n;\n"
        '    return "ok";\n}\n',
    )
    rid = deal(crm, Amount=0)
    out = buttons.run(button(store, api, n="0"), [rid], str(crm.primary_admin_id))
    assert out["message"].startswith("The function failed: ")
    assert "zero" in out["message"].lower()
    assert out["url"] is None
    run = fx.executions.get(out["execution_id"])
    assert run["status"] == "failure"
    assert run["trigger"]["type"] == "button"


def test_placement_rules(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    buttons: Buttons,
) -> None:
    api = deploy(fx, f'string button.{unique()}()\n{{\n    return "hi";\n}}\n')
    detail = button(store, api)
    listed = button(store, api, "list")
    a, b = deal(crm), deal(crm)
    admin = str(crm.primary_admin_id)
    for ids in ([], [a, b]):
        with pytest.raises(AutomationError) as e:
            buttons.run(detail, ids, admin)
        assert e.value.code == "INVALID_DATA" and e.value.details == {"field": "ids"}
    with pytest.raises(AutomationError) as e:
        buttons.run(listed, [], admin)
    assert e.value.code == "INVALID_DATA"
    with pytest.raises(AutomationError) as e:
        buttons.run(listed, [str(i) for i in range(1, 102)], admin)
    assert e.value.code == "INVALID_DATA" and e.value.details["limit"] == 100
    assert buttons.run(listed, [a, b], admin)["message"] == "hi"
    assert buttons.run(detail, [a], admin)["message"] == "hi"


def test_missing_records_disabled_buttons_and_rights(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    buttons: Buttons,
) -> None:
    api = deploy(fx, f'string button.{unique()}()\n{{\n    return "ran";\n}}\n')
    bid = button(store, api)
    listed = button(store, api, "list")
    rid = deal(crm)
    admin = str(crm.primary_admin_id)
    before = len(executions(fx, api))
    for ids, target in (([str(10**17)], bid), (["not-an-id"], bid), ([rid, str(10**17)], listed)):
        with pytest.raises(AutomationError) as e:
            buttons.run(target, ids, admin)
        assert e.value.code == "NOT_FOUND"
        assert e.value.http_status == 404
    with pytest.raises(AutomationError) as e:
        buttons.run(str(10**17), [rid], admin)
    assert e.value.code == "NOT_FOUND"
    store.set_enabled("button", bid, False)
    with pytest.raises(AutomationError) as e:
        buttons.run(bid, [rid], admin)
    assert e.value.code == "NOT_FOUND" and "disabled" in e.value.message
    assert e.value.details["enabled"] is False
    store.set_enabled("button", bid, True)
    with pytest.raises(AutomationError) as e:
        buttons.run(bid, [rid], user_without(crm, "Deals"))
    assert e.value.code == "NO_PERMISSION" and e.value.http_status == 403
    assert len(executions(fx, api)) == before  # nothing ran for refused clicks
    assert buttons.run(bid, [rid], admin)["message"] == "ran"


def test_unpublished_function_is_a_failure_message(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    buttons: Buttons,
) -> None:
    api = deploy(fx, f'string button.{unique()}()\n{{\n    return "x";\n}}\n')
    bid = button(store, api)
    fx.registry.delete(api)
    out = buttons.run(bid, [deal(crm)], str(crm.primary_admin_id))
    assert out["message"].startswith("The function failed: ")
    assert out["execution_id"] is None
