"""Executions in progress get a ``running`` record once they last longer than a moment.

Most runs end within milliseconds; writing a row at their start and again at their end would
double the database work of every REST call. Instead each run is registered here in memory, and
a watchdog thread writes a ``running`` row for runs still going after ``record_after_s`` (1 s by
default). The run's end then updates that row, or inserts the finished row when none was written.
A run whose process dies therefore leaves a ``running`` row behind if it ran long enough to
matter, which is what a later check can report as interrupted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import sqlalchemy as sa

from . import schema as fs

log = logging.getLogger("floodway.functions")

ABANDONED_MARGIN_S: Final = 60.0


class _Entry:
    __slots__ = ("row", "since", "state")

    def __init__(self, row: Callable[[], dict[str, Any]]) -> None:
        self.row = row
        self.since = time.monotonic()
        self.state = "pending"  # pending -> writing -> written


class RunningExecutions:
    """The runs of one process; ``insert_running(rows)`` stores ``running`` rows."""

    def __init__(
        self, insert_running: Callable[[list[dict[str, Any]]], None], record_after_s: float = 1.0
    ) -> None:
        self._insert = insert_running
        self.record_after_s = record_after_s
        self._entries: dict[int, _Entry] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self, execution_id: int, running_row: Callable[[], dict[str, Any]]) -> None:
        """Register a run; ``running_row`` builds its record if the watchdog needs it."""
        with self._cond:
            self._entries[execution_id] = _Entry(running_row)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="floodway-running", daemon=True
                )
                self._thread.start()

    def finish(self, execution_id: int) -> bool:
        """Forget the run; True when its ``running`` row was written (update it, then)."""
        with self._cond:
            entry = self._entries.get(execution_id)
            while entry is not None and entry.state == "writing":
                self._cond.wait()
            self._entries.pop(execution_id, None)
            return entry is not None and entry.state == "written"

    def _watch(self) -> None:
        interval = max(0.05, self.record_after_s / 2)
        while True:
            time.sleep(interval)
            due: list[_Entry] = []
            with self._cond:
                now = time.monotonic()
                for entry in self._entries.values():
                    if entry.state == "pending" and now - entry.since >= self.record_after_s:
                        entry.state = "writing"
                        due.append(entry)
            if not due:
                continue
            try:
                self._insert([e.row() for e in due])
                state = "written"
            except Exception:  # the run goes on; its end inserts the finished row instead
                log.warning("could not record running executions", exc_info=True)
                state = "pending-failed"
            with self._cond:
                for e in due:
                    e.state = state
                self._cond.notify_all()


def interrupt_abandoned_runs(functions: Any) -> int:
    """``running`` executions older than any run may last (the longest time limit of any
    category or function, plus a margin) belong to a process that is gone: the executor
    enforces the limits on live runs. Returns how many were marked."""
    crm = functions.crm
    limits = [
        float(getattr(functions, name, 0.0) or 0.0)
        for name in ("time_limit_s", "validation_time_limit_s", "schedule_time_limit_s")
    ]
    E, F = fs.executions, fs.functions
    with crm.engine.connect() as conn:
        longest = conn.execute(
            sa.select(sa.func.max(F.c.timeout_s)).where(F.c.org_id == crm.org_id)
        ).scalar()
        cutoff = crm.now_ms() - int(
            (max([*limits, float(longest or 0.0)]) + ABANDONED_MARGIN_S) * 1000
        )
        rows = conn.execute(
            sa.select(E.c.id, E.c.function, E.c.trigger)
            .where(E.c.org_id == crm.org_id, E.c.status == "running", E.c.started_time < cutoff)
            .limit(500)
        ).all()
    for row in rows:
        functions.executor.interrupted(str(row.id), row.function, row.trigger or {"type": "manual"})
    return len(rows)
