"""``Automation``: the facade builds every part around one rule store, attaches them once and
detaches them on ``close`` (SQLite and PostgreSQL)."""

from __future__ import annotations

from floodway.automation.service import Automation
from floodway.crm import Crm
from floodway.crm.testing import fresh_crm  # noqa: F401  (fixture)
from floodway.functions.service import Functions
from floodway.jobs import open_queue


def subscribers(crm: Crm) -> int:
    return len(crm.events._subscribers)


def test_automation_attaches_every_part_once_and_close_detaches_them(
    fresh_crm: Crm,  # noqa: F811
) -> None:
    fx = Functions(fresh_crm)
    queue = open_queue(fresh_crm.engine, None, clock=fresh_crm.clock)
    before = subscribers(fresh_crm)

    auto = Automation(fresh_crm, fx, queue, attach=False)
    parts = (
        auto.engine,
        auto.buttons,
        auto.related_lists,
        auto.validations,
        auto.schedules,
        auto.webhooks,
    )
    assert all(p is not None for p in parts)
    assert all(getattr(p, "store", auto.store) is auto.store for p in parts)
    assert auto.engine.runner.webhooks is auto.webhooks  # one outbox for the engine's actions
    assert subscribers(fresh_crm) == before and fresh_crm.records.before_write is None

    auto.attach()
    auto.attach()  # a second call changes nothing
    assert subscribers(fresh_crm) == before + 1
    assert fresh_crm.records.before_write is auto.validations

    auto.close()
    assert subscribers(fresh_crm) == before
    assert fresh_crm.records.before_write is None

    # attach=True is the default (a new queue: a queue takes each periodic task once)
    attached = Automation(fresh_crm, fx, open_queue(fresh_crm.engine, None, clock=fresh_crm.clock))
    try:
        assert subscribers(fresh_crm) == before + 1
    finally:
        attached.close()
    assert subscribers(fresh_crm) == before
