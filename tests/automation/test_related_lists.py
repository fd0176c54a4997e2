"""Function-fed related lists (functions-platform.md §2.4, §8.3): run per view with arguments from
the shown record, XML to table, the error form, invalid XML and failures recorded, who may view.
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from floodway.automation.errors import AutomationError
from floodway.automation.related_lists import INVALID_XML, RelatedLists
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
def lists(crm: Any, fx: Functions, store: AutomationStore) -> RelatedLists:  # noqa: F811
    return RelatedLists(crm, fx, store)


def related(store: AutomationStore, function: str, module: str = "Deals", **args: str) -> str:
    table = {"name": unique("List"), "module": module, "function": function, "arguments": args}
    return store.create("related_list", table).id


def function(fx: Functions, body: str, params: str = "String dealId", kind: str = "string") -> str:
    return deploy(fx, f"{kind} related_list.{unique()}({params})\n{{\n{body}\n}}\n")


def test_xml_table_with_arguments_from_the_record(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    lists: RelatedLists,
) -> None:
    api = function(
        fx,
        '    xml = "<record>";\n'
        '    xml = xml + "<row no=\\"1\\"><FL val=\\"Name\\">" + name + "</FL></row>";\n'
        '    xml = xml + "<row no=\\"0\\"><FL val=\\"Id\\" link=\\"true\\" '
        'url=\\"https://x.example.com/" + dealId + "\\">" + dealId + "</FL>'
        '<FL val=\\"User\\">" + zoho.loginuserid + "</FL></row>";\n'
        '    return xml + "</record>";',
        "String dealId, String name",
    )
    lid = related(store, api, dealId="${Deals.id}", name="${Deals.Deal_Name} &amp; co")
    rid = deal(crm, Deal_Name="Acme")
    viewer = standard_user(crm)
    out = lists.run(lid, "deals", rid, str(viewer.id))  # module names any case
    assert out["error"] is None and out["message"] is None
    assert out["columns"] == ["Id", "User", "Name"]
    assert out["rows"] == [
        {"Id": rid, "User": viewer.email, "Name": ""},
        {"Id": "", "User": "", "Name": "Acme & co"},
    ]
    assert out["links"] == {"0": {"Id": f"https://x.example.com/{rid}"}}
    assert out["truncated"] is False and out["total_rows"] == 2
    run = fx.executions.get(out["execution_id"])
    assert run["status"] == "success" and run["run_as"] == str(viewer.id)
    assert run["trigger"] == {
        "type": "related_list",
        "related_list": store.get("related_list", lid).name,
        "module": "Deals",
        "record_id": rid,
    }
    # no caching: every view runs the function
    again = lists.run(lid, "Deals", rid, str(viewer.id))
    assert again["execution_id"] != out["execution_id"]


def test_error_message_form_and_no_records(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    lists: RelatedLists,
) -> None:
    rid = deal(crm)
    admin = str(crm.primary_admin_id)
    api = function(fx, '    return "<error><message>No invoices yet.</message></error>";')
    out = lists.run(related(store, api, dealId="${Deals.id}"), "Deals", rid, admin)
    assert out["message"] == "No invoices yet." and out["error"] is None and out["rows"] == []
    assert fx.executions.get(out["execution_id"])["status"] == "success"
    api = function(fx, '    return "<record></record>";')
    out = lists.run(related(store, api, dealId="${Deals.id}"), "Deals", rid, admin)
    assert out["rows"] == [] and out["columns"] == [] and out["error"] is None


def test_invalid_xml_is_an_error_and_a_failed_execution(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    lists: RelatedLists,
) -> None:
    rid = deal(crm)
    admin = str(crm.primary_admin_id)
    for body in (
        '    return "<record><row><FL val=\\"A\\">x</FL></record>";',
        '    return "<table><tr/></table>";',
        '    return "";',
    ):
        api = function(fx, body)
        out = lists.run(related(store, api), "Deals", rid, admin)
        assert out["error"] == INVALID_XML, body
        assert out["rows"] == []
        run = fx.executions.get(out["execution_id"])
        assert run["status"] == "failure"
        assert run["error"]["message"].startswith(INVALID_XML + ": ")
        assert len(run["error"]["message"]) > len(INVALID_XML) + 2  # the parser's message


def test_failing_function_shows_an_error_panel(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    lists: RelatedLists,
) -> None:
    api = function(fx, '    m = Map();\n    return m.get("a").get("b");')
    out = lists.run(related(store, api), "Deals", deal(crm), str(crm.primary_admin_id))
    assert out["error"].startswith("The related list function failed: ")
    assert fx.executions.get(out["execution_id"])["status"] == "failure"


def test_list_of_maps_extension(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    lists: RelatedLists,
) -> None:
    api = function(
        fx,
        '    return [{"Invoice": "INV-1", "Total": 12.5}, '
        '{"Invoice": "INV-2", "PDF": {"url": "https://pdf.example.com/2", "text": "Open"}}];',
        "",
        "list",
    )
    out = lists.run(related(store, api), "Deals", deal(crm), str(crm.primary_admin_id))
    assert out["columns"] == ["Invoice", "Total", "PDF"]
    assert out["rows"] == [
        {"Invoice": "INV-1", "Total": "12.5", "PDF": ""},
        {"Invoice": "INV-2", "Total": "", "PDF": "Open"},
    ]
    assert out["links"] == {"1": {"PDF": "https://pdf.example.com/2"}}
    bad = function(fx, '    return [{"a": 1}, 2];', "", "list")
    out = lists.run(related(store, bad), "Deals", deal(crm), str(crm.primary_admin_id))
    assert out["error"] and fx.executions.get(out["execution_id"])["status"] == "failure"


def test_request_problems(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    lists: RelatedLists,
) -> None:
    api = function(fx, '    return "<record/>";', "")
    lid = related(store, api)
    rid = deal(crm)
    admin = str(crm.primary_admin_id)
    before = len(executions(fx, api))
    cases = (
        (lid, "Deals", str(10**17), admin, "NOT_FOUND"),
        (lid, "Accounts", rid, admin, "NOT_FOUND"),  # a list of another module
        (str(10**17), "Deals", rid, admin, "NOT_FOUND"),
        (lid, "Deals", rid, user_without(crm, "Deals"), "NO_PERMISSION"),
    )
    for list_id, module, record_id, user, code in cases:
        with pytest.raises(AutomationError) as e:
            lists.run(list_id, module, record_id, user)
        assert e.value.code == code, (module, record_id)
    store.set_enabled("related_list", lid, False)
    with pytest.raises(AutomationError) as e:
        lists.run(lid, "Deals", rid, admin)
    assert e.value.code == "NOT_FOUND" and "disabled" in e.value.message
    assert len(executions(fx, api)) == before
    store.set_enabled("related_list", lid, True)
    assert lists.run(lid, "Deals", rid, admin)["error"] is None


def test_many_rows_are_cut_to_200(
    crm: Any,  # noqa: F811
    fx: Functions,
    store: AutomationStore,
    lists: RelatedLists,
) -> None:
    api = function(
        fx,
        '    xml = "<record>";\n'
        '    for each i in leftpad("", 250).toList("")\n    {\n'
        '        xml = xml + "<row><FL val=\\"N\\">x</FL></row>";\n    }\n'
        '    return xml + "</record>";',
        "",
    )
    out = lists.run(related(store, api), "Deals", deal(crm), str(crm.primary_admin_id))
    assert out["error"] is None
    assert len(out["rows"]) == 200 and out["truncated"] is True and out["total_rows"] == 250
