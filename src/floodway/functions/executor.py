"""The executor: run one version of a function and record the run as an execution.

``Executor.run`` resolves the version (the live one unless a number is given; compiled programs
are cached), binds named arguments, picks the limits of the function's category
(deluge-language.md §15: 60 s, validation 10 s, schedule 15 min, ``timeout_s`` per function,
200,000 statements), runs it on a ``LiveHost`` as the run-as user (the primary admin for
system runs) and stores one execution row when it ends, together with the mail it queued.

Nothing a script does raises here: runtime errors, limits and arguments of the wrong type are
executions with status ``failure`` (the argument conversion is the first thing the run does).
Only request-level problems raise ``FunctionsError``: unknown function or version, nothing
published, an unknown run-as user, a malformed trigger.

What is stored passes the redactor (SEC-6) with the secrets of the connections the run used;
the result returned to the caller is not redacted (a REST caller gets the real output).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets as _secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.db import write_transaction
from floodway.deluge import Limits, Program, User
from floodway.deluge import run as run_program
from floodway.deluge.values import text_form, to_json_text, to_plain, type_name

from . import redact as _redact
from . import schema as _t
from .crm_bridge import from_plain
from .live_host import COLLECTOR, LiveHost
from .model import FunctionInfo, FunctionsError, LiveFunction, VersionInfo, ms_to_iso
from .redact import MASK, Redactor, is_sensitive_name

if TYPE_CHECKING:
    from .service import Functions

TRIGGER_TYPES: Final = frozenset(
    {"manual", "rest", "workflow", "button", "related_list", "validation", "schedule", "cli"}
)
OUTPUT_CAP: Final = 64 * 1024
USER_TTL_S: Final = 2.0
_ARGUMENT_ERROR: Final = re.compile(r"for argument '([^']+)'$")
NODE: Final = f"{socket.gethostname()[:60]}-{os.getpid()}-{_secrets.token_hex(3)}"
INTERRUPTED_MESSAGE: Final = (
    "the worker running this execution stopped before it finished; it was not run again"
)


@dataclass(slots=True)
class ExecutionResult:
    """The outcome of one run, for the caller (REST envelope, button text, validation map)."""

    id: str | None
    function: str
    version: int
    category: str
    return_type: str | None
    status: str
    value: Any = None  # Deluge value
    output: Any = None  # plain JSON
    output_text: str | None = None
    output_type: str = "void"
    info: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    statements: int = 0
    duration_ms: float = 0.0
    started_at: str = ""
    client_actions: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "function": self.function,
            "version": self.version,
            "status": self.status,
            "output": self.output,
            "output_text": self.output_text,
            "output_type": self.output_type,
            "info": list(self.info),
            "error": self.error,
            "statements": self.statements,
            "duration_ms": round(self.duration_ms, 3),
            "started_at": self.started_at,
            "client_actions": list(self.client_actions),
        }


def _check_trigger(trigger: Mapping[str, Any] | None) -> dict[str, Any]:
    if trigger is None:
        return {"type": "manual"}
    if not isinstance(trigger, Mapping) or trigger.get("type") not in TRIGGER_TYPES:
        raise FunctionsError(
            "INVALID_DATA",
            f"trigger must be an object whose type is one of {', '.join(sorted(TRIGGER_TYPES))}",
            {"field": "trigger"},
        )
    return dict(trigger)


def _chain(chain: tuple[str, int] | None) -> tuple[int | None, int]:
    if chain is None:
        return None, 0
    cid, depth = chain
    return int(cid), int(depth)


class Executor:
    """Runs functions of one org (``fx.executor``)."""

    def __init__(self, fx: Functions) -> None:
        self.fx = fx
        self._limits: dict[tuple[str, float | None], Limits] = {}
        self._users: dict[str, tuple[float, User]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ limits and users

    def limits_for(self, fn: FunctionInfo) -> Limits:
        key = (fn.category, fn.timeout_s)
        limits = self._limits.get(key)
        if limits is None:
            fx = self.fx
            time_s = fn.timeout_s or {
                "validation": fx.validation_time_limit_s,
                "schedule": fx.schedule_time_limit_s,
            }.get(fn.category, fx.time_limit_s)
            limits = Limits(
                statements=fx.statement_limit,
                time_s=time_s,
                memory_bytes=fx.memory_limit_mb * 1024 * 1024,
                invokeurl_daily=fx.invokeurl_daily,
                sendmail_daily=fx.sendmail_daily,
            )
            with self._lock:
                self._limits[key] = limits
        return limits

    def user(self, user_id: str | None) -> User:
        """The Deluge user for ``user_id`` (None: the primary admin), cached briefly."""
        uid = user_id if user_id is not None else self.fx.crm.primary_admin_id
        if uid is None:
            raise FunctionsError(
                "INVALID_DATA", "the org has no primary admin", {"field": "user_id"}
            )
        uid = str(uid)
        now = time.monotonic()
        hit = self._users.get(uid)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = self.fx.crm.users.get(uid)
        if found is None:
            raise FunctionsError(
                "INVALID_DATA", f"user '{uid[:40]}' does not exist", {"field": "user_id"}
            )
        user = User(found.id, found.full_name, found.email)
        with self._lock:
            if len(self._users) > 10_000:
                self._users = {}
            self._users[uid] = (now + USER_TTL_S, user)
        return user

    # ------------------------------------------------------------------ running

    def run(
        self,
        function: str | LiveFunction,
        arguments: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        user_id: str | None = None,
        trigger: Mapping[str, Any] | None = None,
        rerun_of: str | None = None,
        chain: tuple[str, int] | None = None,
        on_info: Callable[[str], None] | None = None,
        record: bool = True,
        execution_id: str | None = None,
        on_record: Callable[[Connection], None] | None = None,
    ) -> ExecutionResult:
        """Run ``function`` and record the execution. ``execution_id`` is an id allocated by
        the caller beforehand (the automation layer notes it before the run starts, so that a
        run cut short by a dying worker can later be reported under that id). ``on_record``
        is called inside the transaction that stores the execution (the automation layer
        notes the action as finished there: one commit instead of two)."""
        fx = self.fx
        started_ms = fx.crm.now_ms()
        trig = _check_trigger(trigger)
        lf = (
            function
            if isinstance(function, LiveFunction)
            else fx.registry.runnable(function, version)
        )
        if arguments is not None and not isinstance(arguments, Mapping):
            raise FunctionsError(
                "INVALID_DATA", "arguments must be an object", {"field": "arguments"}
            )
        args = {str(k): from_plain(v) for k, v in (arguments or {}).items()}
        run_as = self.user(user_id)
        admin = run_as if user_id is None else self.user(None)
        fn = lf.function
        host = LiveHost(fx, run_as, admin, chain=chain)
        eid = int(execution_id) if execution_id is not None else fx.crm.ids.next_id()
        if record:
            fx.running.start(  # the row is built only if the run lasts long enough to need it
                eid,
                lambda: self._running_row(eid, lf, args, trig, run_as, user_id, started_ms, chain),
            )
        token = COLLECTOR.set(host.changes)
        try:
            result = run_program(
                lf.program,
                args,
                host,
                self.limits_for(fn),
                tz=fx.crm.tz,
                month_first=fx.month_first,
                on_info=on_info,
            )
        finally:
            COLLECTOR.reset(token)
        finished_ms = fx.crm.now_ms()
        error = result.error.to_json() if result.error is not None else None
        if error is not None and result.statements == 0:
            bad = _ARGUMENT_ERROR.search(str(error.get("message", "")))
            names = {n for n, _ in lf.program.params}
            if bad is not None and bad.group(1) in names:
                error["argument"] = bad.group(1)  # a wrong argument, not a failing statement
        ok = result.status == "success"
        value = result.value if ok else None
        rtype = lf.version.return_type
        out = ExecutionResult(
            id=None,
            function=fn.api_name,
            version=lf.version.number,
            category=fn.category,
            return_type=rtype,
            status=result.status,
            value=value,
            output=to_plain(value) if value is not None else None,
            output_text=text_form(value) if value is not None else None,
            output_type=rtype if rtype is not None else type_name(value).lower(),
            info=list(result.info),
            error=error,
            statements=result.statements,
            duration_ms=result.duration_ms,
            started_at=ms_to_iso(started_ms) or "",
            client_actions=[{"url": a.url, "target": a.target} for a in result.client_actions],
        )
        if record:
            row = self._row(
                out, lf, args, trig, run_as, user_id, host, started_ms, finished_ms, rerun_of, chain
            )
            row["id"] = eid
            was_running = fx.running.finish(eid)
            fx.executions.insert(
                row,
                list(zip(row.pop("_mail_ids"), host.mails)),
                update=was_running,
                also=on_record,
            )
            out.id = str(row["id"])
        return out

    def _running_row(
        self,
        execution_id: int,
        lf: LiveFunction,
        args: dict[str, Any],
        trig: dict[str, Any],
        run_as: User,
        user_id: str | None,
        started_ms: int,
        chain: tuple[str, int] | None,
    ) -> dict[str, Any]:
        """The record of a run still in progress: who, what, since when; no results yet."""
        secret_args = [
            v for k, v in args.items() if type(v) is str and len(v) >= 4 and is_sensitive_name(k)
        ]
        chain_id, depth = _chain(chain)
        return {
            "id": execution_id,
            "org_id": self.fx.crm.org_id,
            "function_id": int(lf.function.id) if lf.function.id else None,
            "function": lf.function.api_name,
            "version": lf.version.number or None,
            "trigger_type": trig["type"],
            "trigger": trig,
            "status": "running",
            "caller": "system" if user_id is None else "user",
            "run_as": int(run_as.id),
            "arguments": _Masker(secret_args).data(_plain_args(args)),
            "output": None,
            "output_text": None,
            "output_truncated": False,
            "info": [],
            "error": None,
            "notes": [],
            "statements": 0,
            "http_calls": [],
            "emails": [],
            "records": [],
            "client_actions": [],
            "started_time": started_ms,
            "finished_time": started_ms,
            "duration_ms": 0.0,
            "rerun_of": None,
            "chain_id": chain_id,
            "chain_depth": depth,
            "node": NODE,
        }

    def _row(
        self,
        out: ExecutionResult,
        lf: LiveFunction,
        args: dict[str, Any],
        trig: dict[str, Any],
        run_as: User,
        user_id: str | None,
        host: LiveHost,
        started_ms: int,
        finished_ms: int,
        rerun_of: str | None,
        chain: tuple[str, int] | None,
    ) -> dict[str, Any]:
        # Values of arguments named like secrets are masked wherever they show up (SEC-6).
        secret_args = [
            v for k, v in args.items() if type(v) is str and len(v) >= 4 and is_sensitive_name(k)
        ]
        red = _Masker([*host.secrets, *secret_args])
        output_json: Any = None
        output_text: str | None = None
        truncated = False
        if out.value is not None:
            text = to_json_text(out.value)
            if len(text) <= OUTPUT_CAP:
                output_json = red.data(out.output)
            else:
                truncated = True
            output_text = out.output_text
            if output_text is not None and len(output_text) > OUTPUT_CAP:
                output_text, truncated = output_text[:OUTPUT_CAP], True
            if output_text is not None:
                output_text = red.text(output_text)
        error = dict(out.error) if out.error is not None else None
        if error is not None:
            error["message"] = red.text(str(error.get("message", "")))
        chain_id, depth = _chain(chain)
        mail_ids = [self.fx.crm.ids.next_id() for _ in host.mails]
        emails = [
            {
                "outbox_id": str(i),
                "to": list(m.to),
                "cc": list(m.cc),
                "subject": red.text(m.subject),
            }
            for i, m in zip(mail_ids, host.mails)
        ]
        return {
            "id": self.fx.crm.ids.next_id(),
            "org_id": self.fx.crm.org_id,
            "function_id": int(lf.function.id) if lf.function.id else None,
            "function": lf.function.api_name,
            "version": lf.version.number or None,
            "trigger_type": trig["type"],
            "trigger": trig,
            "status": out.status,
            "caller": "system" if user_id is None else "user",
            "run_as": int(run_as.id),
            "arguments": red.data(_plain_args(args)),
            "output": output_json,
            "output_text": output_text,
            "output_truncated": truncated,
            "info": [red.text(line) for line in out.info],
            "error": error,
            "notes": [red.text(n) for n in host.notes],
            "statements": out.statements,
            "http_calls": host.http_calls,
            "emails": emails,
            "records": list(host.changes.values()),
            "client_actions": [
                {"url": red.url(a["url"]), "target": a["target"]} for a in out.client_actions
            ],
            "started_time": started_ms,
            "finished_time": finished_ms,
            "duration_ms": round(out.duration_ms, 3),
            "rerun_of": int(rerun_of) if rerun_of is not None else None,
            "chain_id": chain_id,
            "chain_depth": depth,
            "node": NODE,
            "_mail_ids": mail_ids,
        }

    def run_source(
        self,
        program: Program,
        arguments: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        trigger: Mapping[str, Any] | None = None,
        on_info: Callable[[str], None] | None = None,
        record: bool = True,
    ) -> ExecutionResult:
        """Run a compiled source that is not a stored version (``floodway run FILE --data``).

        ``standalone.*`` calls resolve to the org's live functions; the function's settings
        (``timeout_s``) apply when a function of that api name exists, and the execution
        records its version when the source equals the live version's."""
        registry = self.fx.registry
        fn = registry.find(program.api_name)
        live = registry.live(program.api_name) if fn is not None else None
        sha = hashlib.sha256(program.source.encode("utf-8", "surrogatepass")).hexdigest()
        number = live.version.number if live is not None and live.version.sha256 == sha else 0
        rtype = program.return_type.lower() if program.return_type is not None else None
        info = FunctionInfo(
            id=fn.id if fn is not None else "",
            api_name=fn.api_name if fn is not None else program.api_name[:100],
            display_name=program.api_name[:200],
            description="",
            category=program.category,
            return_type=rtype,
            arguments=tuple(program.params),
            rest_enabled=False,
            rest_auth="any",
            timeout_s=fn.timeout_s if fn is not None else None,
            settings={},
        )
        version = VersionInfo(
            id="",
            function_id=info.id,
            api_name=info.api_name,
            number=number,
            sha256=sha,
            author=None,
            status="draft",
            live=False,
            category=program.category,
            return_type=rtype,
            arguments=info.arguments,
            created_time=0,
            published_time=None,
            source=program.source,
        )
        return self.run(
            LiveFunction(info, version, program),
            arguments,
            user_id=user_id,
            trigger=trigger or {"type": "cli"},
            on_info=on_info,
            record=record,
        )

    def skip(
        self,
        api_name: str,
        trigger: Mapping[str, Any],
        reason: str,
        *,
        user_id: str | None = None,
        chain: tuple[str, int] | None = None,
        arguments: Mapping[str, Any] | None = None,
        conn: Connection | None = None,
        execution_id: str | None = None,
    ) -> str:
        """Store a ``skipped`` execution (loop guard, overlapping schedule) and return its id.

        ``conn``: write it in that open transaction (a record-change subscriber: on SQLite a
        second connection would wait for the write lock the event's transaction holds).
        ``execution_id``: the id reserved for the run that did not happen."""
        row = self._ended_row(
            api_name,
            trigger,
            {"kind": "skipped", "message": reason, "line": None, "column": None},
            status="skipped",
            user_id=user_id,
            chain=chain,
            arguments=arguments,
            version=None,
        )
        if execution_id is not None:
            row["id"] = int(execution_id)
        if conn is not None:
            conn.execute(_t.executions.insert(), [row])
        else:
            self.fx.executions.insert(row)
        return str(row["id"])

    def interrupted(
        self,
        execution_id: str,
        api_name: str,
        trigger: Mapping[str, Any],
        arguments: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        chain: tuple[str, int] | None = None,
        version: int | None = None,
    ) -> str:
        """Record that execution ``execution_id`` was started by a worker that stopped before
        it finished: its ``running`` row (or, when the run was too short to leave one, a new
        row) becomes a ``failure`` with error kind ``interrupted``. A finished execution of
        that id is left as it is. It is never run again automatically (§8.4); ``rerun`` can
        repeat it by hand. Returns the execution id."""
        fx = self.fx
        eid = int(execution_id)
        error = {
            "kind": "interrupted",
            "message": INTERRUPTED_MESSAGE,
            "line": None,
            "column": None,
        }
        now = fx.crm.now_ms()
        E = _t.executions
        with write_transaction(fx.crm.engine) as conn:
            found = conn.execute(
                sa.select(E.c.status, E.c.started_time).where(
                    E.c.id == eid, E.c.org_id == fx.crm.org_id
                )
            ).first()
            if found is not None:
                if found.status == "running":
                    conn.execute(
                        E.update()
                        .where(E.c.id == eid, E.c.org_id == fx.crm.org_id)
                        .values(
                            status="failure",
                            error=error,
                            finished_time=now,
                            duration_ms=float(max(0, now - found.started_time)),
                        )
                    )
                return str(eid)
            row = self._ended_row(
                api_name,
                trigger,
                error,
                status="failure",
                user_id=user_id,
                chain=chain,
                arguments=arguments,
                version=version,
            )
            row["id"] = eid
            conn.execute(E.insert(), [row])
        return str(eid)

    def _ended_row(
        self,
        api_name: str,
        trigger: Mapping[str, Any],
        error: dict[str, Any],
        *,
        status: str,
        user_id: str | None,
        chain: tuple[str, int] | None,
        arguments: Mapping[str, Any] | None,
        version: int | None,
    ) -> dict[str, Any]:
        """The row of an execution that ended without running a statement (skips, runs
        interrupted before anything about them was recorded)."""
        fx = self.fx
        trig = _check_trigger(trigger)
        fn = fx.registry.find(api_name)
        run_as = self.user(user_id)
        now = fx.crm.now_ms()
        chain_id, depth = _chain(chain)
        red = _Masker([])
        error = dict(error)
        error["message"] = red.text(str(error.get("message", "")))
        return {
            "id": fx.crm.ids.next_id(),
            "org_id": fx.crm.org_id,
            "function_id": int(fn.id) if fn is not None else None,
            "function": fn.api_name if fn is not None else api_name[:100],
            "version": version if version is not None else fn.live_version if fn else None,
            "trigger_type": trig["type"],
            "trigger": trig,
            "status": status,
            "caller": "system" if user_id is None else "user",
            "run_as": int(run_as.id),
            "arguments": red.data(
                _plain_args({k: from_plain(v) for k, v in (arguments or {}).items()})
            ),
            "output": None,
            "output_text": None,
            "output_truncated": False,
            "info": [],
            "error": error,
            "notes": [],
            "statements": 0,
            "http_calls": [],
            "emails": [],
            "records": [],
            "client_actions": [],
            "started_time": now,
            "finished_time": now,
            "duration_ms": 0.0,
            "rerun_of": None,
            "chain_id": chain_id,
            "chain_depth": depth,
            "node": NODE,
        }

    def rerun(self, execution_id: str, *, user_id: str | None = None) -> ExecutionResult:
        """Run the same version with the same arguments again (``rerun_of`` set, §8.4)."""
        rec = self.fx.executions.get(execution_id)
        if rec["status"] == "skipped" or rec["version"] is None:
            raise FunctionsError(
                "INVALID_DATA", "a skipped execution cannot be run again", {"id": rec["id"]}
            )
        if _has_mask(rec["arguments"]):
            raise FunctionsError(
                "INVALID_DATA",
                "the execution's arguments hold masked secrets and cannot be repeated",
                {"id": rec["id"]},
            )
        return self.run(
            rec["function"],
            rec["arguments"],
            version=rec["version"],
            user_id=user_id,
            trigger={"type": "manual", "rerun_of": rec["id"]},
            rerun_of=rec["id"],
        )


# Runs of "name" characters this long cannot be a key in key=value text; the by-name pass of
# the redactor is quadratic in such runs (a 16 KB hex string took seconds), so they skip it
# and get only the by-value pass, which is linear.
_LONG_RUN: Final = re.compile(r"[A-Za-z0-9_.-]{128,}")
_HELD: Final = re.compile("\x00(\\d+)\x00")


class _Masker:
    """The SEC-6 redactor for one execution record, in linear time on any input."""

    def __init__(self, secrets: list[str]) -> None:
        self.red = Redactor(secrets)
        forms: set[str] = set()
        for value in secrets:
            forms |= _redact.secret_forms(value)
        ordered = sorted(forms, key=lambda f: (-len(f), f))
        self.values = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def text(self, text: str) -> str:
        if len(text) < 128 or _LONG_RUN.search(text) is None:
            return self.red.text(text)
        runs: list[str] = []

        def hold(m: re.Match[str]) -> str:
            runs.append(m.group(0))
            return f"\x00{len(runs) - 1}\x00"

        masked = self.red.text(_LONG_RUN.sub(hold, text))
        return _HELD.sub(
            lambda m: _redact.registry.mask(runs[int(m.group(1))], self.values), masked
        )

    def url(self, url: str) -> str:
        return self.red.url(url) if len(url) < 4096 else self.text(url)

    def data(self, value: Any, depth: int = 0) -> Any:
        if depth > 64:
            return MASK
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                k: MASK if isinstance(k, str) and is_sensitive_name(k) else self.data(v, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.data(v, depth + 1) for v in value]
        return value


def _plain_args(args: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in args.items():
        try:
            out[k] = to_plain(v)
        except Exception:  # a FILE or something without JSON form: its text form
            out[k] = text_form(v)
    return out


def _has_mask(value: Any) -> bool:
    if isinstance(value, str):
        return MASK in value
    if isinstance(value, dict):
        return any(_has_mask(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_mask(v) for v in value)
    return False
