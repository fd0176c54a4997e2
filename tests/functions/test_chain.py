"""Writes made by a function carry its causal chain (functions-platform.md §5): CRM tasks as
``Actor.chain``, ``invokeurl`` to the CRM API served in-process as the principal's chain; a
user's own write starts a new chain at its event."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from floodway.crm.events import RecordChange
from floodway.crm.testing import admin_actor, crm  # noqa: F401  (fixtures)
from floodway.functions.service import Functions


@pytest.fixture(scope="module")
def fx(crm: Any) -> Functions:  # noqa: F811
    return Functions(crm)


@pytest.fixture
def events(fx: Functions) -> Iterator[list[RecordChange]]:
    seen: list[RecordChange] = []
    unsubscribe = fx.crm.events.subscribe(lambda e, conn: seen.append(e))
    yield seen
    unsubscribe()


def deploy(fx: Functions, body: str) -> str:
    api = "chain_" + secrets.token_hex(4)
    source = f"void standalone.{api}()\n{{\n{body}\n}}\n"
    return fx.registry.create(source, publish=True).function.api_name


def test_a_users_write_starts_a_chain_at_its_event(
    fx: Functions, events: list[RecordChange]
) -> None:
    fx.crm.records.create("Accounts", [{"Account_Name": "own"}], actor=admin_actor(fx.crm))
    [e] = events
    assert (e.chain_id, e.chain_depth) == (e.id, 0)


def test_crm_task_writes_carry_the_execution_chain(
    fx: Functions, events: list[RecordChange]
) -> None:
    api = deploy(fx, 'zoho.crm.createRecord("Accounts", {"Account_Name": "from task"});')
    result = fx.run(api, chain=("4150868000000402001", 3))
    assert result.status == "success", result.error
    [e] = events
    assert (e.chain_id, e.chain_depth) == ("4150868000000402001", 3)
    assert e.channel == "function" and e.workflow is False


def test_in_process_api_writes_carry_the_execution_chain(
    fx: Functions, events: list[RecordChange]
) -> None:
    from floodway.api.app import create_app

    create_app(fx.crm, functions=fx)  # installs the in-process CRM API handler
    try:
        api = deploy(
            fx,
            'resp = invokeurl [ url: "https://www.zohoapis.com/crm/v8/Accounts" type: POST '
            'parameters: {"data": [{"Account_Name": "via api"}]}.toString() ];\n'
            "info resp;",
        )
        result = fx.run(api, chain=("4150868000000402002", 2))
    finally:
        fx.in_process_api = None
    assert result.status == "success", result.error
    [e] = events
    assert e.new is not None and e.new["Account_Name"] == "via api"
    assert (e.chain_id, e.chain_depth) == ("4150868000000402002", 2)
    assert e.workflow is True  # a REST write: rules fire unless the body says otherwise
