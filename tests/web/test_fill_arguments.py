"""The editor's "Fill as ‹attachment› would…": the arguments a rule, a button or a related list
calling the function would pass for a record, put into the arguments pane."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from floodway.crm.testing import admin_actor

from .automation_app import build_app
from .conftest import Console

HTMX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def app(crm: Any) -> Iterator[Any]:
    yield from build_app(crm)


@pytest.fixture(scope="module")
def attached(app: Any) -> dict[str, str]:
    """A function called by a rule (two mapped arguments) and by a list button, and a deal."""
    fx, store, crm = app.state.functions, app.state.automation.store, app.state.crm
    api = "fill_" + secrets.token_hex(3)
    fx.registry.save(
        api,
        f"void automation.{api}(Int dealId, String stage, Decimal amount)\n{{\n    info stage;\n}}\n",
        create=True,
        publish=True,
    )
    rule = store.create(
        "workflow",
        {
            "name": "Fill rule " + api,
            "module": "Deals",
            "on": "edit",
            "actions": [
                {
                    "function": api,
                    "arguments": {
                        "dealId": "${Deals.id}",
                        "stage": "Now ${Deals.Stage}",
                        "amount": "${Deals.Amount}",
                    },
                }
            ],
        },
    )
    name = "Fillable " + secrets.token_hex(3)
    made = crm.records.create(
        "Deals",
        [{"Deal_Name": name, "Stage": "Qualification"}],
        actor=admin_actor(crm),
    )
    return {"api": api, "rule": rule.id, "deal": made[0]["details"]["id"], "name": name}


def test_the_editor_lists_the_attachments(admin: Console, attached: dict[str, str]) -> None:
    page = admin.get(f"/functions/{attached['api']}")
    assert page.status_code == 200
    assert f'value="workflow:{attached["rule"]}"' in page.text
    assert f"rule &#34;Fill rule {attached['api']}&#34; · Deals" in page.text


def test_fill_by_name_puts_the_mapped_values_in_the_pane(
    admin: Console, attached: dict[str, str]
) -> None:
    page = admin.get(f"/functions/{attached['api']}")
    assert page.status_code == 200
    r = admin.post(
        f"/functions/{attached['api']}/fill",
        {"fill.from": f"workflow:{attached['rule']}", "fill.record": attached["name"][:12]},
        headers=HTMX,
    )
    assert r.status_code == 200, r.text
    assert r.text.lstrip().startswith('<section class="panel" id="args-panel"')
    assert f'id="arg-dealId" name="arg.dealId" value="{attached["deal"]}"' in r.text
    assert 'id="arg-stage" name="arg.stage" value="Now Qualification"' in r.text
    # An empty field maps to null: the null box is ticked.
    assert 'name="null.amount" checked' in r.text
    assert "Filled as rule" in r.text and attached["name"] in r.text


def test_fill_by_id_without_javascript_keeps_the_buffer(
    admin: Console, attached: dict[str, str]
) -> None:
    admin.get(f"/functions/{attached['api']}")
    buffer = f"void automation.{attached['api']}(Int dealId, String stage, Decimal amount)\n{{\n    info 1;\n}}\n"
    r = admin.post(
        f"/functions/{attached['api']}/fill",
        {
            "fill.from": f"workflow:{attached['rule']}",
            "fill.record": attached["deal"],
            "source": buffer,
        },
    )
    assert r.status_code == 200
    assert "<html" in r.text and "info 1;" in r.text
    assert f'value="{attached["deal"]}"' in r.text


def test_an_unknown_record_or_attachment_is_said_next_to_the_fill(
    admin: Console, attached: dict[str, str]
) -> None:
    admin.get(f"/functions/{attached['api']}")
    r = admin.post(
        f"/functions/{attached['api']}/fill",
        {"fill.from": f"workflow:{attached['rule']}", "fill.record": "no such deal zz"},
    )
    assert r.status_code == 422
    assert "No Deals record with the id or name" in r.text
    assert 'value="no such deal zz"' in r.text
    r = admin.post(
        f"/functions/{attached['api']}/fill",
        {"fill.from": "button:1", "fill.record": attached["deal"]},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert f"{attached['api']} has no attachment button:1" in r.text
