"""Schedules: each due time of each enabled ``[[schedule]]`` runs its function once.

How it works (functions-platform.md §6):

- **Planning.** A periodic tick (``automation.schedules.tick``, every second, one call per second
  across all workers) plans each enabled schedule's next due time as a delayed job keyed
  ``schedule:<id>:<due_ms>``. The job engine accepts a key once, ever, so any number of workers
  planning the same due time create one job, and one run. ``schedule_state`` remembers the last
  planned due time and the timing it was planned with.
- **Changes.** A job re-reads its schedule when it fires and runs only when the schedule still
  exists, is enabled and still has that due time; so a changed or disabled schedule stops its old
  times without having to find and cancel their jobs.
- **Overlap.** A run claims the schedule's ``running`` mark (one conditional UPDATE); when the
  previous run still holds it, the new one is recorded as a ``skipped`` execution ("previous run
  still in progress"). A mark older than the run's time limit belongs to a process that died.
- **Missed times.** Due times that were never planned because nothing was running (the tick finds
  them between the last planned time and now), and a planned run that could not start within
  ``LATE_AFTER_MS`` of its time, are missed: with ``catch_up`` the schedule runs once (one job
  keyed ``schedule:<id>:catchup:<last planned ms>``, whichever of the two notices first), without
  it they are logged.
- **Dead workers.** A run whose worker died is not run again (executions are never retried
  automatically, §8.4): its execution becomes a failure with error kind ``interrupted``.

Runs are as the primary admin (``user_id=None``) with trigger ``{"type": "schedule",
"schedule": name}``; the executor applies the schedule category's time limit.
"""

from __future__ import annotations

import datetime as _dt
import logging
from typing import Any, Final

import sqlalchemy as sa

from floodway.db import write_transaction
from floodway.functions.model import ms_to_iso

from . import schema as _schema
from .synchronous import runnable_item

log = logging.getLogger("floodway.automation.schedules")

TICK: Final = "automation.schedules.tick"
TASK: Final = "automation.schedule"
TICK_INTERVAL_S: Final = 1.0
# A planned run that has not started this long after its due time was missed: a busy queue
# delays a run by seconds, only a stop of every worker delays it by minutes.
LATE_AFTER_MS: Final = 5 * 60 * 1000
# A running mark is abandoned once it is older than the run's time limit plus this margin.
RUNNING_MARGIN_MS: Final = 60 * 1000
OVERLAP_REASON: Final = "previous run still in progress"
_MISSED_SCAN: Final = 1000  # missed due times counted at most (for the log line)
NOTHING_PLANNED: Final = 2**62  # planned_ms of a schedule with no due time left (``once``)


def _aware(ms: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC)


def _ms(when: _dt.datetime) -> int:
    return round(when.timestamp() * 1000)


class Schedules:
    """Plans and runs the org's schedules on the job queue (``auto.schedules``)."""

    def __init__(
        self, crm: Any, functions: Any, store: Any, queue: Any, settings: Any = None
    ) -> None:
        self.crm = crm
        self.functions = functions
        self.store = store
        self.queue = queue
        self.settings = settings
        self._attached = False

    # ------------------------------------------------------------------ wiring

    def attach(self, *, periodic: bool = True) -> None:
        """Register the run task and the planning tick (every process, before the queue
        starts). ``periodic=False`` leaves the tick out: the caller calls ``tick()`` itself."""
        if self._attached:
            return
        self.queue.register(TASK, self._run_job)
        if periodic:
            self.queue.every(TICK, TICK_INTERVAL_S, self.tick)
        self._attached = True

    def close(self) -> None:
        """Nothing is held between calls; the queue owns the registered task and tick."""
        self._attached = False

    # ------------------------------------------------------------------ timing

    def _timezone(self, item: Any) -> str:
        return item.spec.timezone or getattr(self.crm, "time_zone_name", None) or "UTC"

    def _fingerprint(self, item: Any) -> str:
        timing = item.spec.timing
        return f"{timing.kind}|{timing.expression}|{self._timezone(item)}"

    def _next_ms(self, item: Any, after_ms: int, n: int = 1) -> list[int]:
        times = item.spec.next_times(_aware(after_ms), n, default_timezone=self._timezone(item))
        return [_ms(t) for t in times]

    def next_runs(self, item: Any, n: int = 5) -> list[str]:
        """The next ``n`` due times of a schedule item as ISO-8601 UTC (empty when disabled or
        when a ``once`` schedule's time has passed)."""
        if not getattr(item, "enabled", True) or item.spec is None:
            return []
        return [ms_to_iso(ms) or "" for ms in self._next_ms(item, self.crm.now_ms(), n)]

    def _is_due_time(self, item: Any, due_ms: int) -> bool:
        return self._next_ms(item, due_ms - 1) == [due_ms]

    # ------------------------------------------------------------------ planning

    def tick(self, due_ms: int | None = None, *_: Any) -> None:
        """Plan the next due time of every enabled schedule; notice missed ones."""
        now = self.crm.now_ms()
        items = self.store.list("schedule", enabled_only=True)
        S = _schema.schedule_state
        with self.crm.engine.connect() as conn:
            rows = conn.execute(sa.select(S).where(S.c.org_id == self.crm.org_id)).all()
        states = {str(r.item_id): r for r in rows}
        live = set()
        for item in items:
            live.add(item.id)
            if item.spec is None:
                continue  # a stored definition that no longer parses (the store logs it)
            try:
                self._plan(item, states.get(item.id), now)
            except Exception:  # one broken schedule must not stop the others
                log.exception("schedule %r could not be planned", item.name)
        gone = [int(k) for k in states if k not in live]
        if gone:
            # Disabled or deleted: forget the plan, so enabling again starts from then and does
            # not count the disabled time as missed.
            with write_transaction(self.crm.engine) as conn:
                conn.execute(S.delete().where(S.c.org_id == self.crm.org_id, S.c.item_id.in_(gone)))

    def _plan(self, item: Any, state: Any, now: int) -> None:
        fp = self._fingerprint(item)
        if state is not None and state.timing == fp and state.planned_ms > now:
            return  # the next due time is planned already (the common case: no write)
        upcoming = self._next_ms(item, now)
        nxt = upcoming[0] if upcoming else None
        planned = nxt if nxt is not None else NOTHING_PLANNED
        S = _schema.schedule_state
        key = int(item.id)
        try:
            with write_transaction(self.crm.engine) as conn:
                if state is None:
                    # New or enabled again: due times since then were missed if no planner ran.
                    conn.execute(
                        S.insert().values(
                            item_id=key, org_id=self.crm.org_id, timing=fp, planned_ms=planned
                        )
                    )
                    done = 1
                    self._missed_between(conn, item, int(item.modified_ms), now, fp)
                elif state.timing != fp:
                    # Its timing changed: plan from now on.
                    done = conn.execute(
                        S.update()
                        .where(S.c.item_id == key, S.c.timing == state.timing)
                        .values(timing=fp, planned_ms=planned)
                    ).rowcount
                else:
                    last = int(state.planned_ms)
                    done = conn.execute(
                        S.update()
                        .where(S.c.item_id == key, S.c.planned_ms == last)
                        .values(planned_ms=planned)
                    ).rowcount
                    if done:
                        self._missed_between(conn, item, last, now, fp)
                if done and nxt is not None:
                    self.queue.enqueue(
                        conn,
                        TASK,
                        {"id": item.id, "due_ms": nxt, "kind": "due"},
                        key=f"schedule:{item.id}:{nxt}",
                        run_at_ms=nxt,
                    )
        except sa.exc.IntegrityError:
            return  # another planner stored this schedule's state first; it planned the time

    def _missed_between(self, conn: Any, item: Any, last: int, now: int, fp: str) -> None:
        """Due times after ``last`` (the last planned one) up to ``now`` were never planned:
        nothing was running when they came."""
        missed = [t for t in self._next_ms(item, last, _MISSED_SCAN) if t <= now]
        if not missed:
            return
        count = f"{len(missed)}{'+' if len(missed) == _MISSED_SCAN else ''}"
        if item.spec.catch_up:
            log.warning(
                "schedule %r missed %s due time(s) from %s to %s while no worker was running; "
                "running it once now (catch_up)",
                item.name,
                count,
                ms_to_iso(missed[0]),
                ms_to_iso(missed[-1]),
            )
            self._enqueue_catch_up(conn, item, last, missed[-1], fp)
        else:
            log.warning(
                "schedule %r missed %s due time(s) from %s to %s while no worker was running "
                "(catch_up is off: not run)",
                item.name,
                count,
                ms_to_iso(missed[0]),
                ms_to_iso(missed[-1]),
            )

    def _enqueue_catch_up(self, conn: Any, item: Any, last: int, due_ms: int, fp: str) -> bool:
        return bool(
            self.queue.enqueue(
                conn,
                TASK,
                {"id": item.id, "due_ms": due_ms, "kind": "catch_up", "timing": fp},
                key=f"schedule:{item.id}:catchup:{last}",
            )
        )

    # ------------------------------------------------------------------ running

    def run_now(self, item_id: str, user_id: str | None = None) -> str:
        """ "Run now": enqueue one run of the schedule's function outside its timing (trigger
        ``schedule`` with ``"detail": "manual"``, run as ``user_id``); returns the execution id
        the run will have. It does not touch the schedule's planned times or running mark."""
        item = runnable_item(self.store.get("schedule", item_id), "schedule")
        eid = str(self.crm.ids.next_id())
        with write_transaction(self.crm.engine) as conn:
            self.queue.enqueue(
                conn,
                TASK,
                {"id": item.id, "kind": "manual", "execution_id": eid, "user_id": user_id},
                key=f"schedule:{item.id}:manual:{eid}",
            )
        return eid

    def _run_manual(self, args: dict[str, Any], recovered: bool) -> str | None:
        item = self._item(str(args["id"]))
        if item is None or item.spec is None:
            return None
        trigger = {**self._trigger(item), "detail": "manual"}
        fx, eid = self.functions, str(args["execution_id"])
        if recovered:  # it may have started on a worker that died: never run it again (§8.4)
            fx.executor.interrupted(eid, item.spec.function, trigger)
            return eid
        try:
            result = fx.executor.run(
                item.spec.function,
                {},
                trigger=trigger,
                execution_id=eid,
                user_id=args.get("user_id"),
            )
        except Exception as exc:
            message = getattr(exc, "message", None)
            if message is None:
                raise
            # Under the announced id, so "Run now" leads to the reason.
            return str(
                fx.executor.skip(
                    item.spec.function,
                    trigger,
                    f"not run: {message}",
                    user_id=args.get("user_id"),
                    execution_id=eid,
                )
            )
        return str(result.id)

    def _run_job(self, job: Any) -> None:
        args = job.args or {}
        if args.get("kind") == "manual":
            self._run_manual(args, bool(getattr(job, "recovered", False)))
            return
        self.run_due(
            str(args["id"]),
            int(args["due_ms"]),
            kind=str(args.get("kind") or "due"),
            timing=args.get("timing"),
            recovered=bool(getattr(job, "recovered", False)),
        )

    def _item(self, item_id: str) -> Any:
        try:
            return self.store.get("schedule", item_id)
        except Exception as exc:  # NOT_FOUND: deleted since the job was planned
            if getattr(exc, "code", None) == "NOT_FOUND":
                return None
            raise

    def run_due(
        self,
        item_id: str,
        due_ms: int,
        *,
        kind: str = "due",
        timing: str | None = None,
        recovered: bool = False,
    ) -> str | None:
        """Run one planned due time (or a catch-up); returns the execution id, None when
        nothing was recorded (the schedule changed, or the time was missed)."""
        item = self._item(item_id)
        if item is None or not item.enabled or item.spec is None:
            return None
        fp = self._fingerprint(item)
        if kind == "catch_up":
            if timing != fp:
                return None
        else:
            if not self._is_due_time(item, due_ms):
                return None  # the timing changed since this time was planned
            now = self.crm.now_ms()
            if now - due_ms > LATE_AFTER_MS:
                return self._late(item, due_ms, fp)
        return self._run(item, due_ms, recovered=recovered, catch_up=kind == "catch_up")

    def _late(self, item: Any, due_ms: int, fp: str) -> None:
        if item.spec.catch_up:
            log.warning(
                "schedule %r: the run due at %s could not start while no worker was running; "
                "running it once now (catch_up)",
                item.name,
                ms_to_iso(due_ms),
            )
            with write_transaction(self.crm.engine) as conn:
                self._enqueue_catch_up(conn, item, due_ms, due_ms, fp)
        else:
            log.warning(
                "schedule %r missed its run due at %s while no worker was running "
                "(catch_up is off: not run)",
                item.name,
                ms_to_iso(due_ms),
            )
        return None

    def _trigger(self, item: Any) -> dict[str, Any]:
        return {"type": "schedule", "schedule": item.name}

    def _running_limit_ms(self, api_name: str) -> int:
        info = self.functions.registry.find(api_name)
        limit_s = float(getattr(self.functions, "schedule_time_limit_s", 900.0))
        if info is not None:
            limit_s = float(self.functions.executor.limits_for(info).time_s)
        return int(limit_s * 1000) + RUNNING_MARGIN_MS

    def _run(self, item: Any, due_ms: int, *, recovered: bool, catch_up: bool) -> str | None:
        S = _schema.schedule_state
        fx = self.functions
        api_name = item.spec.function
        trigger = self._trigger(item)
        item_key = int(item.id)
        if recovered:
            with self.crm.engine.connect() as conn:
                state = conn.execute(sa.select(S).where(S.c.item_id == item_key)).first()
            if (
                state is not None
                and state.last_due_ms == due_ms
                and state.last_execution_id is not None
            ):
                # This due time had started on a worker that died. Never run it again (§8.4):
                # an unfinished run is reported as interrupted.
                eid = str(state.last_execution_id)
                if state.running_ms is not None:
                    fx.executor.interrupted(eid, api_name, trigger)
                    self._release(item_key, int(state.last_execution_id))
                return eid
        now = self.crm.now_ms()
        eid = self.crm.ids.next_id()
        stale = now - self._running_limit_ms(api_name)
        with write_transaction(self.crm.engine) as conn:
            claimed = conn.execute(
                S.update()
                .where(
                    S.c.item_id == item_key,
                    sa.or_(S.c.running_ms.is_(None), S.c.running_ms < stale),
                )
                .values(running_ms=now, last_due_ms=due_ms, last_execution_id=eid)
            ).rowcount
            if not claimed:
                exists = conn.execute(sa.select(S.c.item_id).where(S.c.item_id == item_key)).first()
                if exists is None:  # planned by a tick that has not stored its state yet
                    conn.execute(
                        S.insert().values(
                            item_id=item_key,
                            org_id=self.crm.org_id,
                            timing=self._fingerprint(item),
                            planned_ms=due_ms,
                            running_ms=now,
                            last_due_ms=due_ms,
                            last_execution_id=eid,
                        )
                    )
                    claimed = 1
        if not claimed:
            log.info("schedule %r: %s, due time %s skipped", item.name, OVERLAP_REASON, due_ms)
            return str(fx.executor.skip(api_name, trigger, OVERLAP_REASON))
        try:
            result = fx.executor.run(api_name, {}, trigger=trigger, execution_id=str(eid))
        except Exception as exc:
            message = getattr(exc, "message", None)
            if message is None:
                raise
            # No live version, or the function is gone: say so where the runs are looked at.
            log.warning("schedule %r cannot run %s: %s", item.name, api_name, message)
            return str(fx.executor.skip(api_name, trigger, f"not run: {message}"))
        finally:
            self._release(item_key, eid)
        if catch_up:
            log.info("schedule %r: catch-up run %s", item.name, result.id)
        return result.id

    def _release(self, item_key: int, eid: int) -> None:
        S = _schema.schedule_state
        with write_transaction(self.crm.engine) as conn:
            conn.execute(
                S.update()
                .where(S.c.item_id == item_key, S.c.last_execution_id == eid)
                .values(running_ms=None)
            )
