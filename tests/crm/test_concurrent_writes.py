"""Writers of one record at the same time: each one's fields survive the other's write.

A record's values are one JSON document, so a write reads, merges and writes it. The first
writer is held inside its transaction (after its write, before its commit) while the second
starts; on PostgreSQL the test waits until the second is blocked on the first one's row lock.
Both backends must end with the fields of both writers.
"""

# ruff: noqa: F401, F811  (pytest fixtures imported from floodway.crm.testing)

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.crm import Crm, RecordChange
from floodway.crm.testing import admin_actor, crm

_WAIT_S = 20.0


Match = Callable[[RecordChange], bool]


def changes(field: str) -> Match:
    return lambda event: field in event.changed


@contextmanager
def held_first_write(crm: Crm, match: Match) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Hold the first write whose event matches before its commit: yields (reached, release)."""
    reached, release = threading.Event(), threading.Event()

    def hold(event: RecordChange, conn: Connection) -> None:
        if match(event) and not reached.is_set():
            reached.set()
            assert release.wait(_WAIT_S), "the test never released the first writer"

    unsubscribe = crm.events.subscribe(hold)
    try:
        yield reached, release
    finally:
        release.set()
        unsubscribe()


def second_writer_waits(crm: Crm) -> None:
    """Until the second writer is queued behind the first (PostgreSQL: an ungranted lock)."""
    if crm.engine.dialect.name != "postgresql":
        time.sleep(0.3)  # SQLite: the second waits for BEGIN IMMEDIATE, which cannot be seen
        return
    deadline = time.monotonic() + _WAIT_S
    with crm.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            if waiting.scalar_one():
                return
            conn.rollback()
            time.sleep(0.01)
    raise AssertionError("the second writer never waited for the first")


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # reported by the test
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def race(crm: Crm, first: Callable[[], Any], second: Callable[[], Any], hold: Match) -> list[Any]:
    """Run ``first`` (held before its commit), then ``second`` behind it; both results."""
    with held_first_write(crm, hold) as (reached, release):
        one, got_one = in_thread(first)
        assert reached.wait(_WAIT_S), got_one
        two, got_two = in_thread(second)
        second_writer_waits(crm)
        release.set()
        one.join(_WAIT_S)
        two.join(_WAIT_S)
    assert not one.is_alive() and not two.is_alive()
    return [*got_one, *got_two]


def test_two_writers_of_different_fields_both_keep_theirs(crm: Crm) -> None:
    actor = admin_actor(crm)
    made = crm.records.create("Accounts", [{"Account_Name": "Race Ltd"}], actor=actor)[0]
    rid = made["details"]["id"]

    def write(values: dict[str, Any]) -> Callable[[], Any]:
        return lambda: crm.records.update("Accounts", [values], actor=actor, record_id=rid)

    results = race(
        crm,
        write({"Phone": "+1 555 0100"}),
        write({"Website": "https://race.test"}),
        changes("Phone"),
    )
    assert [r[0]["status"] for r in results] == ["success", "success"], results
    record = crm.records.get("Accounts", rid)
    assert record is not None
    assert record["Phone"] == "+1 555 0100"
    assert record["Website"] == "https://race.test"


def test_bulk_writers_of_the_same_records_in_opposite_order_do_not_deadlock(crm: Crm) -> None:
    actor = admin_actor(crm)
    made = crm.records.create(
        "Accounts", [{"Account_Name": "Pair A"}, {"Account_Name": "Pair B"}], actor=actor
    )
    a, b = (m["details"]["id"] for m in made)

    def first() -> Any:
        rows = [{"id": a, "Phone": "1"}, {"id": b, "Phone": "2"}]
        return crm.records.update("Accounts", rows, actor=actor)

    def second() -> Any:
        rows = [{"id": b, "Website": "https://b.test"}, {"id": a, "Website": "https://a.test"}]
        return crm.records.update("Accounts", rows, actor=actor)

    results = race(crm, first, second, changes("Phone"))
    assert all(r["status"] == "success" for res in results for r in res), results
    got = {rid: crm.records.get("Accounts", rid) for rid in (a, b)}
    assert (got[a] or {}).get("Phone") == "1" and (got[a] or {}).get("Website") == "https://a.test"
    assert (got[b] or {}).get("Phone") == "2" and (got[b] or {}).get("Website") == "https://b.test"


def test_update_waiting_on_a_delete_reports_the_record_gone(crm: Crm) -> None:
    actor = admin_actor(crm)
    made = crm.records.create("Accounts", [{"Account_Name": "Gone Soon"}], actor=actor)[0]
    rid = made["details"]["id"]

    def delete() -> Any:
        return crm.records.delete("Accounts", [rid], actor=actor)

    def update() -> Any:
        return crm.records.update("Accounts", [{"Phone": "9"}], actor=actor, record_id=rid)

    deleted, updated = race(crm, delete, update, lambda e: e.action == "delete")
    assert deleted[0]["status"] == "success", deleted
    assert updated[0]["status"] == "error" and updated[0]["code"] == "INVALID_DATA", updated
    assert crm.records.get("Accounts", rid) is None
