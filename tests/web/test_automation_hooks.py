"""Buttons and function-fed related lists on record pages.

The automation service is being built alongside the console; these tests give the app a small
stand-in that follows its documented interface (docs/automation-service-api.md §2.1, §2.3:
``store.active``, ``buttons.run``, ``related_lists.run``) and check what the console does with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from .conftest import Console


@dataclass
class _Spec:
    placement: str = "detail"


@dataclass
class _Item:
    id: str
    name: str
    spec: _Spec = field(default_factory=_Spec)


class _Store:
    def __init__(self, items: dict[str, list[_Item]]) -> None:
        self.items = items

    def active(self, kind: str, module: str | None = None) -> list[_Item]:
        return self.items.get(kind, []) if module == "Accounts" else []


class _Buttons:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], str]] = []

    def run(self, button_id: str, ids: list[str], user_id: str) -> dict[str, Any]:
        self.calls.append((button_id, ids, user_id))
        if button_id == "2":
            return {"message": None, "url": "javascript:alert(1)", "execution_id": "9"}
        return {
            "message": f"<b>Marked</b> {len(ids)}",
            "url": "https://pm.example/projects/7",
            "execution_id": "8",
        }


class _RelatedLists:
    def run(self, list_id: str, module: str, record_id: str, user_id: str) -> dict[str, Any]:
        return {
            "columns": ["Invoice", "Total"],
            "rows": [{"Invoice": "<INV-1>", "Total": "10"}, {"Invoice": "INV-2", "Total": "5"}],
            "links": {"0": {"Invoice": "https://billing.example/1"}, "1": {"Invoice": "data:x"}},
            "error": None,
            "execution_id": "7",
        }


class _Automation:
    def __init__(self) -> None:
        self.store = _Store(
            {
                "button": [
                    _Item("1", "Create project"),
                    _Item("2", "Bad link"),
                    _Item("3", "Mark invoiced", _Spec("list")),
                ],
                "related_list": [_Item("5", "Invoices")],
            }
        )
        self.buttons = _Buttons()
        self.related_lists = _RelatedLists()


@pytest.fixture
def automation(app: Any, monkeypatch: Any) -> _Automation:
    auto = _Automation()
    monkeypatch.setattr(app.state, "automation", auto, raising=False)
    return auto


def _account(app: Any, name: str) -> str:
    from floodway.crm import Actor

    admin = app.state.crm.users.by_email("alice@example.test")
    row = app.state.crm.records.create(
        "Accounts", [{"Account_Name": name}], actor=Actor(admin.id, "ui")
    )[0]
    return str(row["details"]["id"])


def test_without_automation_no_buttons_or_function_lists_render(app: Any, admin: Console) -> None:
    rid = _account(app, "Plain Ltd")
    html = admin.get(f"/m/Accounts/{rid}").text
    assert "/buttons/" not in html and "related-functions" not in html
    assert admin.post(f"/m/Accounts/{rid}/buttons/1").status_code == 404


def test_detail_button_runs_and_shows_message_as_text_and_safe_link(
    app: Any, admin: Console, automation: _Automation
) -> None:
    rid = _account(app, "Buttoned Ltd")
    html = admin.get(f"/m/Accounts/{rid}").text
    assert f'hx-post="/m/Accounts/{rid}/buttons/1"' in html and "Create project" in html
    assert "Mark invoiced" not in html  # a list button is not on the detail page
    r = admin.post(f"/m/Accounts/{rid}/buttons/1", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "&lt;b&gt;Marked&lt;/b&gt; 1" in r.text
    assert (
        'href="https://pm.example/projects/7" target="_blank" rel="noopener noreferrer"' in r.text
    )
    user = app.state.crm.users.by_email("alice@example.test")
    assert automation.buttons.calls[-1] == ("1", [rid], user.id)
    r = admin.post(f"/m/Accounts/{rid}/buttons/2", headers={"HX-Request": "true"})
    assert "javascript:" not in r.text.replace("not an http(s) address", "")


def test_az3_button_needs_a_readable_record(
    app: Any, no_deals: Console, automation: _Automation
) -> None:
    no_deals.get("/")
    assert no_deals.post("/m/Deals/1234/buttons/1").status_code == 403
    assert no_deals.post("/m/Accounts/4150868000000999999/buttons/1").status_code == 404
    assert automation.buttons.calls == []


def test_list_button_runs_for_the_selected_records(
    app: Any, admin: Console, automation: _Automation
) -> None:
    a, b = _account(app, "Listed A"), _account(app, "Listed B")
    html = admin.get("/m/Accounts").text
    assert "Run: Mark invoiced" in html
    r = admin.client.post(
        "/m/Accounts/list-buttons/3",
        data={"csrf_token": admin.csrf, "ids": [a, b]},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and "Marked</b> 2".replace("</b>", "&lt;/b&gt;") in r.text
    assert automation.buttons.calls[-1][1] == [a, b]
    r = admin.client.post(
        "/m/Accounts/list-buttons/3",
        data={"csrf_token": admin.csrf, "ids": [a, "4150868000000999999"]},
    )
    assert r.status_code == 404 and len(automation.buttons.calls) == 1


def test_function_related_list_is_loaded_as_an_escaped_table(
    app: Any, admin: Console, automation: _Automation
) -> None:
    rid = _account(app, "Related Ltd")
    html = admin.get(f"/m/Accounts/{rid}").text
    assert f'hx-get="/m/Accounts/{rid}/related-functions/5"' in html
    fragment = admin.get(f"/m/Accounts/{rid}/related-functions/5").text
    assert "&lt;INV-1&gt;" in fragment
    assert 'href="https://billing.example/1"' in fragment
    assert "data:x" not in fragment
