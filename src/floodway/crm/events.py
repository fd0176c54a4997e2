"""Record-change events: one per written record, emitted inside the write's transaction.

Subscribers (the automation layer) are called with the event and the open connection, before
the commit: what they write (jobs, executions) commits or rolls back together with the record,
and an exception from a subscriber aborts the whole write. Every event is also stored in the
``record_events`` outbox table in the same transaction.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy.engine import Connection

from . import schema as t


@dataclass(frozen=True, slots=True)
class RecordChange:
    """What one write did to one record.

    ``old`` / ``new`` are the record's values in stored form (API name -> JSON value; lookups
    as id strings; ``Owner``, ``Created_By``, ``Modified_By`` as user id strings; times as ISO
    UTC), ``None`` for the missing side of a create or a delete. ``changed`` lists the API
    names whose value differs. ``channel`` is ``api``, ``ui`` or ``function``; ``workflow``
    whether the writer asked for workflow rules. ``chain_id`` / ``chain_depth`` place the write in
    its causal chain (functions-platform.md §5): a user's or API client's write starts a chain
    (``chain_id`` = this event's id, depth 0); writes made by automation carry their chain.
    """

    id: str
    action: str  # "create" | "update" | "delete"
    module: str
    record_id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    changed: tuple[str, ...]
    user_id: str
    channel: str
    workflow: bool
    time: _dt.datetime
    chain_id: str = ""  # "" = a new chain: this event's id
    chain_depth: int = 0

    def __post_init__(self) -> None:
        if not self.chain_id:
            object.__setattr__(self, "chain_id", self.id)


Subscriber: TypeAlias = Callable[[RecordChange, Connection], None]


class EventBus:
    """Subscribers of record-change events (per ``Crm`` instance, not global)."""

    def __init__(self, org_id: int) -> None:
        self.org_id = org_id
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(event, conn)`` for every change; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers = [*self._subscribers, fn]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not fn]

        return unsubscribe

    def emit(self, conn: Connection, events: Sequence[RecordChange]) -> None:
        """Store ``events`` in the outbox and call the subscribers, inside ``conn``'s transaction."""
        if not events:
            return
        conn.execute(
            t.record_events.insert(),
            [
                {
                    "id": int(e.id),
                    "org_id": self.org_id,
                    "module": e.module,
                    "record_id": int(e.record_id),
                    "action": e.action,
                    "user_id": int(e.user_id),
                    "channel": e.channel,
                    "workflow": e.workflow,
                    "changed": list(e.changed),
                    "old": e.old,
                    "new": e.new,
                    "created_time": int(e.time.timestamp() * 1000),
                }
                for e in events
            ],
        )
        subscribers = self._subscribers
        for e in events:
            for fn in subscribers:
                fn(e, conn)
