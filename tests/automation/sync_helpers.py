"""Shared set-up of the button, related-list and validation tests: functions, records, users."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from floodway.crm import schema as t
from floodway.crm.testing import admin_actor
from floodway.db import write_transaction
from floodway.functions.service import Functions


def unique(prefix: str = "fn") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def deploy(fx: Functions, source: str) -> str:
    """Create and publish a function; its api name."""
    return fx.registry.create(source, publish=True).function.api_name


def deal(crm: Any, **fields: Any) -> str:
    row = {"Deal_Name": unique("deal"), "Stage": "Qualification", **fields}
    res = crm.records.create("Deals", [row], actor=admin_actor(crm))
    assert res[0]["status"] == "success", res
    return str(res[0]["details"]["id"])


def user_without(crm: Any, module: str) -> str:
    """A user whose profile may do anything except read ``module``; its id."""
    name = unique("NoRead")
    with write_transaction(crm.engine) as conn:
        conn.execute(
            t.profiles.insert().values(
                id=crm.ids.next_id(),
                org_id=crm.org_id,
                name=name,
                rights={
                    "modules": {module: [], "*": ["read", "create", "edit", "delete"]},
                    "permissions": [],
                },
                created_time=crm.now_ms(),
            )
        )
    user, _ = crm.users.create(f"{name.lower()}@example.com", last_name="NoRead", profile=name)
    return str(user.id)


def standard_user(crm: Any) -> Any:
    user, _ = crm.users.create(f"{unique('std')}@example.com", first_name="Stan", last_name="Dard")
    return user


def executions(fx: Functions, function: str) -> list[dict[str, Any]]:
    return fx.executions.list(function=function, limit=50)


def count_rows(crm: Any, module: str) -> int:
    mod = crm.metadata.module(module)
    with crm.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(t.records.c.module_id == int(mod.id))
            ).scalar_one()
        )
