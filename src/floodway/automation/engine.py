"""The workflow engine: record changes in, action jobs out (functions-platform.md §4, §5;
docs/automation-service-api.md §2.2).

``WorkflowEngine.on_event`` runs inside the write's transaction (a ``crm.events`` subscriber).
For every enabled rule of the module it tests the trigger, the criteria on the committed record,
``repeat`` and the loop guard, and enqueues the instant actions of every rule that fires as one
``automation.action`` job on the same connection: the record and its job commit together or not
at all. Each action keeps its own key ``wf:<rule_id>:<event_id>:<index>`` (exactly once, runs.py);
the job runs them one after another, rules in their order and each rule's actions in manifest
order (§4.4), and is keyed ``wfe:<event_id>`` (a lone action's job carries that action's key
instead). One job per change rather than per action also spares the queue four fetches,
hand-offs and status writes out of five in a typical firing. Scheduled actions (``after``) and
date rules get a
``scheduled_actions`` row and a delayed job instead (planning.py). Date rules are planned on
every write that sets their field, whoever wrote it: their time is a property of the stored
record, not an effect of the write.

``handle`` runs the jobs on a worker: it re-reads the rule, for scheduled actions re-reads the
record and re-checks the criteria, and runs each action exactly once per key (runs.py). Only
infrastructure failures (the database unreachable) are retried (``RetryLater``); a function
that fails is a failed execution, a field update that is refused a failure in the activity log.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.crm.errors import CrmError
from floodway.crm.events import RecordChange
from floodway.db import read_transaction, write_transaction
from floodway.functions.model import FunctionsError, ms_to_iso
from floodway.jobs import Job, NewJob, RetryLater
from floodway.project.model import Action, FieldUpdateAction, FunctionAction, Workflow

from . import activity as _activity
from . import planning, runs, snapshot
from .actions import ActionContext, ActionRunner, Outcome
from .errors import AutomationError
from .loop_guard import DEFAULT_MAX_DEPTH, LoopGuard
from .matching import (
    EVENT_TRIGGERS,
    CriteriaCache,
    CriteriaError,
    already_ran,
    claim_first_run,
    trigger_matches,
)

if TYPE_CHECKING:
    from floodway.crm.service import Crm
    from floodway.functions.service import Functions

    from .store import AutomationStore, Item

__all__ = ["TASK", "WorkflowEngine"]

log = logging.getLogger("floodway.automation.engine")

TASK: Final = "automation.action"
_RETRYABLE: Final = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.DisconnectionError,
    sa.exc.TimeoutError,
)
GONE_RULE: Final = "the rule was deleted or disabled before the action ran"
GONE_RECORD: Final = "the record was deleted"
NO_MATCH: Final = "the record no longer meets the rule's criteria"


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule about to fire for a record: the record snapshot and the chain position."""

    item: Item
    module: str
    record_id: str
    record: dict[str, Any]
    user_id: str | None
    chain_id: str
    depth: int  # depth of the write that fires the rule; its actions run at depth + 1
    event_id: str
    trigger_ms: int

    @property
    def rule(self) -> Workflow:
        return _workflow(self.item)


class _AlreadyDone(Exception):
    """Rolls back a field update or task whose action key another delivery already wrote."""


@dataclass(slots=True)
class _Claim:
    """The action key a field update or task on this thread notes in its write's transaction
    (with ``entry``, the activity entry of a successful write, when it is known beforehand)."""

    key: str
    module: str
    action: str
    record_id: str | None
    entry: _activity.Entry | None = None
    logged: bool = False  # the key and the entry were written in the write's transaction

    def matches(self, event: RecordChange) -> bool:
        return (
            event.module == self.module
            and event.action == self.action
            and (self.record_id is None or event.record_id == self.record_id)
        )


class _RecordView:
    """The event's record in REST shape, rendered on first use (most events fire no rule)."""

    def __init__(self, crm: Crm, conn: Connection, event: RecordChange) -> None:
        self._load: Callable[[], dict[str, Any] | None] = lambda: snapshot.of_event(
            crm, conn, event
        )
        self._record: dict[str, Any] | None = None
        self._loaded = False

    @property
    def record(self) -> dict[str, Any] | None:
        if not self._loaded:
            self._record = self._load()
            self._loaded = True
        return self._record


class WorkflowEngine:
    """Workflow rules of ``crm``'s org (``auto.engine``)."""

    def __init__(
        self,
        crm: Crm,
        functions: Functions,
        store: AutomationStore,
        queue: Any,
        settings: Any = None,
        *,
        webhooks: Any = None,
    ) -> None:
        self.crm = crm
        self.functions = functions
        self.store = store
        self.queue = queue
        depth = getattr(settings, "workflow_max_chain_depth", None) if settings else None
        self.guard = LoopGuard(int(depth) if depth is not None else DEFAULT_MAX_DEPTH)
        if webhooks is None:  # queue_webhook only writes rows; delivery is the attached part's
            from .webhooks import Webhooks

            webhooks = Webhooks(crm, functions, queue, settings)
        self.runner = ActionRunner(crm, functions, webhooks)
        self.criteria = CriteriaCache()
        self._local = threading.local()
        self._unsubscribe: Callable[[], None] | None = None
        self._registered = False

    # ------------------------------------------------------------------ lifecycle

    def attach(self) -> None:
        """Register the action task and subscribe to record changes (once)."""
        if not self._registered:
            self.queue.register(TASK, self.handle)
            self._registered = True
        if self._unsubscribe is None:
            self._unsubscribe = self.crm.events.subscribe(self.on_event)

    def close(self) -> None:
        """Unsubscribe (the task stays registered: queued jobs still find their handler)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # ------------------------------------------------------------------ reading

    def activity(
        self, rule_id: Any = None, record_id: Any = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The activity log, newest first (automation-service-api.md §2.2)."""
        with read_transaction(self.crm.engine) as conn:
            return _activity.list_activity(
                conn, self.crm.org_id, rule_id=rule_id, record_id=record_id, limit=limit
            )

    def pending(self, module: str, record_id: Any) -> list[dict[str, Any]]:
        """The record's pending scheduled actions and date-rule firings, soonest first."""
        mod = self.crm.metadata.find(module)
        try:
            rid = str(int(str(record_id)))
        except ValueError:
            return []
        if mod is None:
            return []
        with read_transaction(self.crm.engine) as conn:
            rows = planning.pending_rows(conn, self.crm.org_id, mod.api_name, rid)
        items: dict[int, Item | None] = {}
        out = []
        for r in rows:
            if r.rule_id not in items:
                items[r.rule_id] = self._rule(str(r.rule_id), enabled_only=False)
            item = items[r.rule_id]
            kind = "date_rule"
            if r.action_index is not None:
                actions = _workflow(item).actions if item is not None else ()
                kind = actions[r.action_index].kind if r.action_index < len(actions) else "action"
            out.append(
                {
                    "id": str(r.id),
                    "rule_id": str(r.rule_id),
                    "rule": item.name if item is not None else None,
                    "action_index": r.action_index,
                    "kind": kind,
                    "due_time": ms_to_iso(r.due_ms),
                    "created_time": ms_to_iso(r.created_ms),
                }
            )
        return out

    # ------------------------------------------------------------------ record changes

    def on_event(self, event: RecordChange, conn: Connection) -> None:
        """``crm.events`` subscriber: runs inside the write's transaction."""
        self._note_claim(event, conn)
        store: Any = self.store  # its ``list`` method shadows the builtin for type checkers
        rules: list[Item] = store.active("workflow", event.module)
        if not rules:
            return
        view = _RecordView(self.crm, conn, event)
        now = self.crm.now_ms()
        dated = [i for i in rules if _workflow(i).on == "date"]
        if dated:
            self._plan_dates(conn, event, dated, view, now)
        if not event.workflow:
            return  # function writes that did not ask for rules; workflow field updates
        candidates: list[Firing] = []
        for item in rules:
            rule = _workflow(item)
            if rule.on not in EVENT_TRIGGERS or not trigger_matches(rule, event):
                continue
            record = view.record
            if record is None:
                break
            firing = Firing(
                item,
                event.module,
                event.record_id,
                record,
                event.user_id,
                event.chain_id,
                event.chain_depth,
                event.id,
                _ms(event.time),
            )
            if self._may_fire(conn, firing, now):
                candidates.append(firing)
        if not candidates:
            return
        # The loop guard of every candidate in one statement, the action jobs of every rule
        # that fires in one enqueue.
        reasons = self.guard.check_many(
            conn,
            chain_id=event.chain_id,
            depth=event.chain_depth,
            rules=[(f.item.id, f.item.name) for f in candidates],
            record_id=event.record_id,
            now_ms=now,
        )
        instant: list[dict[str, Any]] = []
        for f in candidates:
            self._fire(conn, f, reasons[f.item.id], now, instant)
        self._enqueue_instant(conn, event.id, instant)

    def _note_claim(self, event: RecordChange, conn: Connection) -> None:
        claim: _Claim | None = getattr(self._local, "claim", None)
        if claim is None or not claim.matches(event):
            return
        self._local.claim = None
        if not runs.done(conn, claim.key, self.crm.now_ms()):
            raise _AlreadyDone(claim.key)
        if claim.entry is not None:
            self._write_entry(conn, claim.entry)
            claim.logged = True

    def _consider(self, conn: Connection, f: Firing, now: int) -> str:
        """Criteria, repeat, loop guard, then the actions: ``fired``, ``no_match``,
        ``repeat`` (first_time, already ran) or ``suppressed``."""
        if not self._meets(conn, f, now):
            return "no_match"
        if f.rule.repeat == "first_time" and already_ran(conn, f.item.id, f.record_id):
            return "repeat"
        reason = self.guard.check(
            conn,
            chain_id=f.chain_id,
            depth=f.depth,
            rule_id=f.item.id,
            rule_name=f.item.name,
            record_id=f.record_id,
            now_ms=now,
        )
        instant: list[dict[str, Any]] = []
        outcome = self._fire(conn, f, reason, now, instant)
        self._enqueue_instant(conn, f.event_id, instant)
        return outcome

    def _may_fire(self, conn: Connection, f: Firing, now: int) -> bool:
        """Criteria met and, for ``first_time`` rules, not fired for the record before."""
        if not self._meets(conn, f, now):
            return False
        return not (f.rule.repeat == "first_time" and already_ran(conn, f.item.id, f.record_id))

    def _fire(
        self,
        conn: Connection,
        f: Firing,
        reason: str | None,
        now: int,
        instant: list[dict[str, Any]],
    ) -> str:
        """After the loop guard (``reason``: why it is suppressed): ``suppressed``,
        ``repeat`` (a concurrent save noted the first run) or ``fired``. The instant actions
        go to ``instant`` (the caller enqueues them with the other rules' ones)."""
        if reason is not None:
            self._suppress(conn, f, reason, now)
            return "suppressed"
        if f.rule.repeat == "first_time" and not claim_first_run(conn, f.item.id, f.record_id, now):
            return "repeat"
        self._plan_actions(conn, f, now, instant)
        return "fired"

    def _meets(self, conn: Connection, f: Firing, now: int) -> bool:
        try:
            return self.criteria.matches(
                f.item.id,
                f.item.modified_ms,
                f.rule.criteria_tree,
                f.record,
                self.crm.metadata.field_types(f.module),
                self.crm.tz,
            )
        except CriteriaError as exc:  # a field of the criteria was deleted after saving
            self._log(
                conn,
                f,
                None,
                None,
                "failure",
                f"criteria cannot be evaluated: {exc}; the rule did not fire",
                now,
            )
            return False

    def _enqueue_instant(
        self, conn: Connection, event_id: str, actions: list[dict[str, Any]]
    ) -> None:
        """One job for the instant actions of one change (see the module's docstring)."""
        if len(actions) == 1:
            args = dict(actions[0])
            key = str(args.pop("key"))
            self.queue.enqueue_many(conn, [NewJob(TASK, args, key)])
        elif actions:
            self.queue.enqueue_many(conn, [NewJob(TASK, {"actions": actions}, f"wfe:{event_id}")])

    def _plan_actions(
        self, conn: Connection, f: Firing, now: int, instant: list[dict[str, Any]]
    ) -> None:
        """The rule's instant actions to ``instant`` (in manifest order); its scheduled ones
        get their row and delayed job here."""
        item, rule = f.item, f.rule
        depth = f.depth + 1
        for index, action in enumerate(rule.actions):
            key = f"wf:{item.id}:{f.event_id}:{index}"
            if action.after is None:
                instant.append(
                    {
                        "key": key,
                        "rule_id": item.id,
                        "index": index,
                        "module": f.module,
                        "record_id": f.record_id,
                        "user_id": f.user_id,
                        "chain": [f.chain_id, depth],
                        "trigger_ms": f.trigger_ms,
                        "record": snapshot.for_action(f.record, action),
                    }
                )
                continue
            due = planning.after_due_ms(f.trigger_ms, action.after, self.crm.tz)
            row_id = self.crm.ids.next_id()
            planning.insert_row(
                conn,
                row_id=row_id,
                org_id=self.crm.org_id,
                rule_id=item.id,
                module=f.module,
                record_id=f.record_id,
                action_index=index,
                due_ms=due,
                chain_id=f.chain_id,
                chain_depth=depth,
                event_id=f.event_id,
                user_id=f.user_id or str(self.crm.primary_admin_id),
                now_ms=now,
            )
            args = {"scheduled_id": str(row_id), "trigger_ms": f.trigger_ms}
            self.queue.enqueue(conn, TASK, args, key=key, run_at_ms=due)

    def _suppress(self, conn: Connection, f: Firing, reason: str, now: int) -> None:
        """Record a suppressed firing: a skipped execution per function action, an activity
        row per action (functions-platform.md §5.5)."""
        for index, action in enumerate(f.rule.actions):
            ctx = self._context(f, index, action)
            execution_id = None
            if isinstance(action, FunctionAction):
                execution_id = self.functions.executor.skip(
                    action.function,
                    ctx.trigger,
                    reason,
                    user_id=self.runner.run_as(ctx.user_id),
                    chain=ctx.chain,
                    arguments=self._arguments_or_none(ctx),
                    conn=conn,
                )
            self._log(conn, f, index, action.kind, "skipped", reason, now, execution_id)

    def _plan_dates(
        self,
        conn: Connection,
        event: RecordChange,
        dated: list[Item],
        view: _RecordView,
        now: int,
    ) -> None:
        org = self.crm.org_id
        if event.action == "delete":
            planning.cancel_date_rules(conn, org, event.record_id)
            return
        changed = {c.lower() for c in event.changed}
        for item in dated:
            rule = _workflow(item)
            if event.action == "update":
                if (rule.date_field or "").lower() not in changed:
                    continue
                planning.cancel_date_rules(conn, org, event.record_id, [item.id])
            record = view.record
            if record is None:
                return
            types = self.crm.metadata.field_types(event.module)
            due = planning.date_rule_due_ms(rule, record, types, self.crm.tz)
            if due is None or due <= now:
                continue  # a time already past when the record is saved does not fire
            row_id = self.crm.ids.next_id()
            planning.insert_row(
                conn,
                row_id=row_id,
                org_id=org,
                rule_id=item.id,
                module=event.module,
                record_id=event.record_id,
                action_index=None,
                due_ms=due,
                chain_id=str(row_id),  # a date rule's firing starts a chain of its own
                chain_depth=1,
                event_id=event.id,
                user_id=event.user_id,
                now_ms=now,
            )
            self.queue.enqueue(
                conn, TASK, {"scheduled_id": str(row_id)}, key=f"date:{row_id}", run_at_ms=due
            )

    # ------------------------------------------------------------------ jobs

    def handle(self, job: Job) -> None:
        """``automation.action`` handler: the instant actions of one change (or a lone one),
        one scheduled action, or one date rule's firing."""
        try:
            if "scheduled_id" in job.args:
                self._scheduled(job)
                return
            # The job key is in job_keys, so a job with a key is its only carrier: on its
            # first delivery no earlier attempt can have run any of its actions.
            first = job.key is not None and job.attempt == 1 and not job.recovered
            if "actions" not in job.args:
                a = job.args
                key = job.key or f"wf:{a['rule_id']}:job{job.id}:{a['index']}"
                self._instant(a, key, first)
                return
            failed: Exception | None = None
            retry: Exception | None = None
            held: set[str] = set()  # rules whose later actions wait for the retry
            for a in job.args["actions"]:
                rule = str(a["rule_id"])
                if rule in held:
                    continue  # they run after the failed one, in order, on the retry
                try:
                    self._instant(a, str(a["key"]), first)
                except (RetryLater, *_RETRYABLE) as exc:
                    # The other rules' actions still run now; the retry runs this one and
                    # the rest of its rule (the keys skip whatever already ran).
                    held.add(rule)
                    retry = retry or exc
                except Exception as exc:  # one action's fault does not stop the others
                    log.exception("workflow action %s failed", a["key"])
                    failed = failed or exc
            if retry is not None:
                raise retry
            if failed is not None:
                raise failed
        except _RETRYABLE as exc:
            raise RetryLater(f"database unavailable: {type(exc).__name__}") from exc

    def _instant(self, a: dict[str, Any], key: str, first: bool) -> None:
        item = self._rule(str(a["rule_id"]))
        chain = (str(a["chain"][0]), int(a["chain"][1]))
        action = self._action(item, int(a["index"]))
        if item is None or action is None:
            self._log_gone(str(a["rule_id"]), a, int(a["index"]), chain)
            return
        ctx = ActionContext(
            rule_id=item.id,
            rule=item.name,
            on=_workflow(item).on,
            module=str(a["module"]),
            record_id=str(a["record_id"]),
            index=int(a["index"]),
            action=action,
            record=dict(a.get("record") or {}),
            user_id=a.get("user_id"),
            chain=chain,
            trigger_ms=int(a.get("trigger_ms") or self.crm.now_ms()),
        )
        self._run(ctx, key, first)

    def _scheduled(self, job: Job) -> None:
        sid = int(job.args["scheduled_id"])
        with read_transaction(self.crm.engine) as conn:
            row = planning.load(conn, sid)
        if row is None or row.status != "pending":
            return  # cancelled (re-planned, record deleted), skipped or done
        if row.action_index is None:
            self._fire_date(row)
            return
        key = job.key or f"sa:{sid}"
        item = self._rule(str(row.rule_id))
        action = self._action(item, row.action_index)
        chain = (str(row.chain_id), int(row.chain_depth))
        with write_transaction(self.crm.engine) as conn:
            # Re-read and re-check when it fires (§4.5); a run that had started already is
            # left to the exactly-once bookkeeping of _run.
            started = runs.get(conn, key) is not None
            record = snapshot.current(self.crm, conn, row.module, str(row.record_id))
            f = None
            if item is None or action is None:
                reason: str | None = GONE_RULE
            elif record is None and not started:
                reason = GONE_RECORD
            else:
                reason = None
                f = Firing(
                    item,
                    row.module,
                    str(row.record_id),
                    record or {},
                    str(row.user_id),
                    chain[0],
                    chain[1] - 1,
                    str(row.event_id),
                    int(job.args.get("trigger_ms") or row.due_ms),
                )
                if not started and not self._meets(conn, f, self.crm.now_ms()):
                    reason = NO_MATCH
            if reason is not None or f is None or action is None:
                if planning.set_status(conn, sid, "skipped"):
                    self._skip_scheduled(conn, row, item, action, chain, reason or GONE_RULE)
                return
        self._run(self._context(f, row.action_index, action), key)
        with write_transaction(self.crm.engine) as conn:
            planning.set_status(conn, sid, "done")

    def _fire_date(self, row: Any) -> None:
        """A date rule's time has come: re-read the record and fire like an event would (one
        transaction: the row, the chain note and the action jobs commit together)."""
        item = self._rule(str(row.rule_id))
        now = self.crm.now_ms()
        with write_transaction(self.crm.engine) as conn:
            if not planning.set_status(conn, row.id, "done"):
                return
            if item is None or _workflow(item).on != "date":
                planning.set_status(conn, row.id, "cancelled", only_if="done")
                return
            record = snapshot.current(self.crm, conn, row.module, str(row.record_id))
            if record is None:
                planning.set_status(conn, row.id, "skipped", only_if="done")
                return
            f = Firing(
                item,
                row.module,
                str(row.record_id),
                record,
                str(row.user_id),
                str(row.chain_id),
                int(row.chain_depth) - 1,
                str(row.id),
                int(row.due_ms),
            )
            outcome = self._consider(conn, f, now)
            if outcome == "no_match":
                planning.set_status(conn, row.id, "skipped", only_if="done")
                self._log(conn, f, None, "date", "skipped", NO_MATCH, now)
            elif outcome == "repeat":
                planning.set_status(conn, row.id, "skipped", only_if="done")

    def _skip_scheduled(
        self,
        conn: Connection,
        row: Any,
        item: Item | None,
        action: Action | None,
        chain: tuple[str, int],
        reason: str,
    ) -> None:
        execution_id = None
        if isinstance(action, FunctionAction) and item is not None:
            trigger = {
                "type": "workflow",
                "rule_id": item.id,
                "rule": item.name,
                "module": row.module,
                "record_id": str(row.record_id),
            }
            execution_id = self.functions.executor.skip(
                action.function,
                trigger,
                reason,
                user_id=self.runner.run_as(str(row.user_id)),
                chain=chain,
                conn=conn,
            )
        entry = _activity.Entry(
            str(row.rule_id),
            item.name if item is not None else None,
            row.module,
            str(row.record_id),
            row.action_index,
            action.kind if action is not None else None,
            "skipped",
            reason,
            execution_id,
            chain[0],
            chain[1],
        )
        self._write_entry(conn, entry)

    # ------------------------------------------------------------------ running one action

    def _run(self, ctx: ActionContext, key: str, first: bool = False) -> None:
        kind = ctx.action.kind
        if kind == "function":
            self._run_function(ctx, key)
        elif kind in ("webhook", "email"):
            self._run_queued(ctx, key)
        else:
            self._run_write(ctx, key, first)

    def _run_function(self, ctx: ActionContext, key: str) -> None:
        action = ctx.action
        assert isinstance(action, FunctionAction)
        execution_id = self.crm.ids.next_id()
        with write_transaction(self.crm.engine) as conn:
            before = None
            if not runs.start(conn, key, self.crm.now_ms(), execution_id):
                before = runs.get(conn, key)
        if before is not None:
            if before.finished_ms is None:
                self._interrupted(ctx, key, str(before.execution_id))
            return
        finished = False

        def finish(conn: Connection) -> None:
            # In the transaction that stores the execution: one commit for both.
            nonlocal finished
            runs.finish(conn, key, self.crm.now_ms())
            finished = True

        try:
            arguments = self.runner.function_arguments(ctx)
            self.runner.run_function(ctx, arguments, str(execution_id), on_record=finish)
        except FunctionsError as exc:  # the function is gone or has no live version
            finished = False
            with write_transaction(self.crm.engine) as conn:
                self._write_entry(conn, self._entry(ctx, "failure", exc.message))
                runs.finish(conn, key, self.crm.now_ms())
            finished = True
        except BaseException:
            finished = False  # whatever noted it was rolled back with the execution
            raise
        finally:
            if not finished:
                with write_transaction(self.crm.engine) as conn:
                    runs.finish(conn, key, self.crm.now_ms())

    def _interrupted(self, ctx: ActionContext, key: str, execution_id: str) -> None:
        """A function action that started on a worker that stopped: never run again; its
        execution becomes an ``interrupted`` failure (rerunnable by hand)."""
        action = ctx.action
        assert isinstance(action, FunctionAction)
        self.functions.executor.interrupted(
            execution_id,
            action.function,
            ctx.trigger,
            self._arguments_or_none(ctx),
            user_id=self.runner.run_as(ctx.user_id),
            chain=ctx.chain,
        )
        with write_transaction(self.crm.engine) as conn:
            runs.finish(conn, key, self.crm.now_ms())
            entry = self._entry(
                ctx, "interrupted", "the worker stopped while the function ran; not run again"
            )
            self._write_entry(conn, _with_execution(entry, execution_id))

    def _run_queued(self, ctx: ActionContext, key: str) -> None:
        """Webhooks and e-mails: queued in one transaction with their key."""
        with write_transaction(self.crm.engine) as conn:
            if not runs.done(conn, key, self.crm.now_ms()):
                return
            if ctx.action.kind == "webhook":
                outcome = self.runner.webhook(conn, ctx)
            else:
                outcome = self.runner.email(conn, ctx)
            self._write_entry(conn, self._entry(ctx, outcome.status, outcome.message))

    def _run_write(self, ctx: ActionContext, key: str, first: bool = False) -> None:
        """Field updates and tasks: the key is noted inside the write's own transaction (by
        ``on_event``), so a second delivery finds it and writes nothing. ``first``: the
        job's first delivery (no earlier attempt can have noted the key), which skips the
        look-up before the write. A field update that is written notes its activity entry
        in that transaction too."""
        if not first:
            with read_transaction(self.crm.engine) as conn:
                if runs.get(conn, key) is not None:
                    return
        action = ctx.action
        field_update = action.kind == "field_update"
        entry = None
        if isinstance(action, FieldUpdateAction):
            entry = self._entry(ctx, "success", self.runner.field_update_message(action))
        claim = _Claim(
            key,
            ctx.module if field_update else "Tasks",
            "update" if field_update else "create",
            ctx.record_id if field_update else None,
            entry,
        )
        self._local.claim = claim
        try:
            outcome = self.runner.field_update(ctx) if field_update else self.runner.task(ctx)
        except _AlreadyDone:
            return
        except CrmError as exc:
            outcome = Outcome("failure", f"{exc.code}: {exc.message}")
        finally:
            self._local.claim = None
        if claim.logged and outcome.status == "success":
            return  # the write committed with its key and its activity entry
        with write_transaction(self.crm.engine) as conn:
            runs.done(conn, key, self.crm.now_ms())  # when the write changed nothing
            self._write_entry(conn, self._entry(ctx, outcome.status, outcome.message))

    # ------------------------------------------------------------------ helpers

    def _rule(self, rule_id: str, *, enabled_only: bool = True) -> Item | None:
        if enabled_only:
            # The active rules are cached (dropped on local writes, refreshed within the
            # cache's time to live for other processes' writes); others are read.
            store: Any = self.store
            for item in store.active("workflow"):
                if item.id == rule_id:
                    return item
        try:
            item = self.store.get("workflow", rule_id)
        except AutomationError:
            return None
        if item.spec is None or (enabled_only and not item.enabled):
            return None
        return item

    @staticmethod
    def _action(item: Item | None, index: int | None) -> Action | None:
        if item is None or index is None:
            return None
        actions = _workflow(item).actions
        return actions[index] if 0 <= index < len(actions) else None

    def _context(self, f: Firing, index: int, action: Action) -> ActionContext:
        return ActionContext(
            rule_id=f.item.id,
            rule=f.item.name,
            on=f.rule.on,
            module=f.module,
            record_id=f.record_id,
            index=index,
            action=action,
            record=f.record,
            user_id=f.user_id,
            chain=(f.chain_id, f.depth + 1),
            trigger_ms=f.trigger_ms,
        )

    def _arguments_or_none(self, ctx: ActionContext) -> dict[str, Any] | None:
        """Mapped arguments for a skipped or interrupted execution's record (best effort)."""
        try:
            return self.runner.function_arguments(ctx)
        except Exception:  # a record that no longer renders must not hide the skip itself
            log.debug("could not map arguments for the record", exc_info=True)
            return None

    def _entry(self, ctx: ActionContext, status: str, message: str) -> _activity.Entry:
        return _activity.Entry(
            ctx.rule_id,
            ctx.rule,
            ctx.module,
            ctx.record_id,
            ctx.index,
            ctx.action.kind,
            status,
            message,
            None,
            ctx.chain[0],
            ctx.chain[1],
        )

    def _log(
        self,
        conn: Connection,
        f: Firing,
        index: int | None,
        kind: str | None,
        status: str,
        message: str,
        now: int,
        execution_id: str | None = None,
    ) -> None:
        entry = _activity.Entry(
            f.item.id,
            f.item.name,
            f.module,
            f.record_id,
            index,
            kind,
            status,
            message,
            execution_id,
            f.chain_id,
            f.depth + 1,
        )
        _activity.write(
            conn, entry, entry_id=self.crm.ids.next_id(), org_id=self.crm.org_id, now_ms=now
        )

    def _log_gone(self, rule_id: str, args: dict[str, Any], index: int, chain: Any) -> None:
        entry = _activity.Entry(
            rule_id,
            None,
            args.get("module"),
            args.get("record_id"),
            index,
            None,
            "skipped",
            GONE_RULE,
            None,
            chain[0],
            chain[1],
        )
        with write_transaction(self.crm.engine) as conn:
            self._write_entry(conn, entry)

    def _write_entry(self, conn: Connection, entry: _activity.Entry) -> None:
        _activity.write(
            conn,
            entry,
            entry_id=self.crm.ids.next_id(),
            org_id=self.crm.org_id,
            now_ms=self.crm.now_ms(),
        )


def _workflow(item: Item) -> Workflow:
    spec = item.spec
    assert isinstance(spec, Workflow), f"item {item.id} is not a workflow rule"
    return spec


def _with_execution(entry: _activity.Entry, execution_id: str) -> _activity.Entry:
    from dataclasses import replace

    return replace(entry, execution_id=execution_id)


def _ms(moment: _dt.datetime) -> int:
    return int(moment.timestamp() * 1000)
