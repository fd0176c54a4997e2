"""One execution of a compiled Deluge function: budgets, helpers, errors, result.

An ``Execution`` binds the helper table the generated code calls (``rt_tick``, ``rt_add``,
``rt_call``, ...) to itself, so helpers reach the host, the limits and the info log without any
module-level state. Called functions (``standalone.x``) run inside the same execution: same
budget, same log, depth + 1.

Statement budget: ``rt_tick`` is the ``__next__`` of a C-level chain of ``repeat(True, n)``
grants; only at grant boundaries (every 1,024 statements) does Python code run, to check the
statement limit, the deadline, memory and cancellation. Loop iterations draw from the same chain
through ``itertools.compress``, so counting stays exact at almost no cost.
"""

from __future__ import annotations

import datetime as _dt
import logging
import secrets
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, compress, islice, repeat
from operator import length_hint
from types import CodeType, FunctionType, TracebackType
from typing import Any, Final
from zoneinfo import ZoneInfo

# Everything the runtime may reach is imported now: loading a module while a script runs would
# trip the audit-hook tripwire (tripwire.py).
from . import builtins as _builtins  # noqa: F401  (registers every built-in)
from . import datetimes as _datetimes  # noqa: F401
from . import jsonparse as _jsonparse  # noqa: F401
from . import operators as ops
from . import registry, tasks
from .builtins import conversions as _conversions  # noqa: F401
from .builtins import crypto as _crypto  # noqa: F401
from .builtins import dates as _dates  # noqa: F401
from .builtins import lists as _lists  # noqa: F401
from .context import CURRENT
from .errors import (
    DelugeError,
    DelugeInternalError,
    DelugeLimitError,
    DelugeRuntimeError,
)
from .host import ClientAction, Host
from .limits import Limits
from .program import Program
from .tripwire import ARMED, DisarmingHost, TripwireError
from .tripwire import install as _install_tripwire
from .values import (
    COLLECTION,
    NUMBER_MAX,
    NUMBER_MIN,
    TYPE_NAMES,
    Collection,
    DateTime,
    DelugeList,
    DelugeMap,
    File,
    info_text,
    text_form,
    to_json_text,
    type_name,
)

registry.freeze()
_install_tripwire()
log = logging.getLogger("floodway.deluge")

GRANT: Final = 1024
HELPER_NAMES: Final = frozenset(
    """rt_tick rt_each rt_each_index rt_add rt_sub rt_mul rt_div rt_mod rt_neg rt_pos rt_not
    rt_eq rt_ne rt_lt rt_le rt_gt rt_ge rt_cond rt_ovf rt_cat rt_call rt_fn rt_list rt_map
    rt_coll rt_newmap rt_newlist rt_typedlist rt_date rt_sys rt_now rt_today rt_info rt_throw
    rt_caught rt_crm rt_enc rt_unsupported rt_callfn rt_task rt_req rt_isnull rt_istr rt_input
    rt_RuntimeError""".split()
)
INFO_TRUNCATED: Final = "[info output truncated]"
CRM_ALIASES: Final = {"create": "createrecord", "update": "updaterecord"}
MEMORY_WALK_EVERY: Final = 32 * 1024 * 1024


@dataclass
class Result:
    status: str  # "success" | "failure"
    value: Any = None  # return value after conversion (Deluge value)
    info: list[str] = field(default_factory=list)
    error: DelugeError | None = None
    statements: int = 0
    duration_ms: float = 0.0
    client_actions: list[ClientAction] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        from .values import to_plain

        ok = self.status == "success"
        return {
            "status": self.status,
            "output": to_plain(self.value) if ok else None,
            "output_text": (None if self.value is None else text_form(self.value)) if ok else None,
            "info": list(self.info),
            "error": self.error.to_json() if self.error else None,
            "statements": self.statements,
            "duration_ms": round(self.duration_ms, 3),
        }


def _deluge_frames(tb: TracebackType | None) -> list[tuple[CodeType, int]]:
    """(code, instruction offset) of generated-code frames, outermost first."""
    out = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.startswith("<deluge:"):
            out.append((code, tb.tb_lasti))
        tb = tb.tb_next
    return out


def _position(code: CodeType, lasti: int) -> tuple[int | None, int | None]:
    positions = list(code.co_positions())
    idx = lasti // 2
    if 0 <= idx < len(positions):
        line, _end, col, _ecol = positions[idx]
        return line, col
    return None, None


class Execution:
    """State of one run; implements ``context.Context`` for built-ins."""

    def __init__(
        self,
        host: Host,
        limits: Limits | None = None,
        tz: str | _dt.tzinfo = "UTC",
        month_first: bool = True,
        on_info: Callable[[str], None] | None = None,
    ) -> None:
        self.host: Host = DisarmingHost(host)  # type: ignore[assignment]
        self.limits = limits or Limits()
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz  # type: ignore[assignment]
        self.month_first = month_first
        self.on_info = on_info
        self.info: list[str] = []
        self.info_bytes = 0
        self.info_full = False
        self.client_actions: list[ClientAction] = []
        self.depth = 0
        self.cancelled = False
        self.charged = 0
        self.next_walk = MEMORY_WALK_EVERY
        self.granted = 0
        self.refunded = 0
        self.deadline = time.monotonic() + self.limits.time_s
        self._chunk: Iterator[bool] = repeat(True, 0)
        self._chain = chain.from_iterable(self._grants())
        self.spellings: dict[str, str] = {}
        self.programs: dict[str, Program] = {}
        self.root: Program | None = None
        self.globals = self._helpers()

    # --- Context ----------------------------------------------------------------------------
    def now(self) -> _dt.datetime:
        return self.host.now().astimezone(self.tz)

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise DelugeLimitError(
                f"Execution exceeded the time limit of {self.limits.time_s:g} seconds"
            )
        if self.cancelled:
            raise DelugeLimitError("Execution was cancelled")

    def regex_timeout(self) -> float:
        return max(0.001, min(self.limits.regex_timeout_s, self.deadline - time.monotonic()))

    def charge(self, nbytes: int) -> None:
        self.charged += nbytes
        if self.charged >= self.next_walk:
            self.next_walk = self.charged + MEMORY_WALK_EVERY
            self._check_memory()

    def _check_memory(self) -> None:
        """Measure the values the running Deluge frames hold (LM-3)."""
        total = 0
        seen: set[int] = set()
        frame = sys._getframe(1)
        roots: list[Any] = []
        while frame is not None:
            if frame.f_code.co_filename.startswith("<deluge:"):
                roots.extend(frame.f_locals.values())
            frame = frame.f_back  # type: ignore[assignment]
        stack = roots
        while stack:
            v = stack.pop()
            t = type(v)
            if t is str:
                total += 49 + len(v)
                continue
            if id(v) in seen:
                continue
            seen.add(id(v))
            if t is DelugeList:
                total += 56 + 8 * len(v)
                stack.extend(v)
            elif t is DelugeMap:
                total += 64 + 100 * len(v)
                stack.extend(v.keys())
                stack.extend(v.values())
            elif t is Collection:
                stack.append(v.value)
            elif t is File:
                total += 100 + len(v.content)
            else:
                total += 32
            if len(seen) % 10_000 == 0:
                self.check_deadline()
        if total > self.limits.memory_bytes:
            raise DelugeLimitError(
                f"Execution exceeded the memory limit of {self.limits.memory_bytes // (1024 * 1024)} MB"
            )

    # --- statement budget ---------------------------------------------------------------------
    def _grants(self) -> Iterator[Iterator[bool]]:
        limit = self.limits.statements
        while True:
            self.check_deadline()
            remaining = limit - self.granted
            if remaining <= 0:
                raise DelugeLimitError(f"Execution exceeded the limit of {limit} statements")
            n = GRANT if remaining > GRANT else remaining
            self._chunk = repeat(True, n)
            self.granted += n
            yield self._chunk

    @property
    def statements(self) -> int:
        return self.granted - length_hint(self._chunk) - self.refunded

    def refund(self, tb: TracebackType | None) -> None:
        """Give back statements charged ahead in loop iterations that an error cut short."""
        for code, lasti in _deluge_frames(tb):
            positions = list(code.co_positions())
            idx = lasti // 2
            if 0 <= idx < len(positions):
                _line, _eline, col, ecol = positions[idx]
                if col is not None and ecol is not None and ecol > col:
                    self.refunded += ecol - col - 1

    def _caught(self, exc: DelugeRuntimeError) -> str:
        self.refund(exc.__traceback__)
        return exc.message

    def _each(self, x: Any, cost: int) -> Iterator[Any]:
        t = type(x)
        if t is Collection:
            x = x.value if x.value is not None else DelugeList()
            t = type(x)
        if t is DelugeList:
            items: list[Any] = list(x)
        elif t is DelugeMap:
            items = list(x)
        elif t is str:
            items = x.split(",") if x else []  # D-24: comma-separated parts, as toList(",")
        else:
            raise DelugeRuntimeError(f"Cannot iterate over {type_name(x)}")
        if len(items) > 4096:
            self.charge(8 * len(items))
        return compress(
            items, self._chain if cost == 1 else islice(self._chain, cost - 1, None, cost)
        )

    def _each_index(self, x: Any, cost: int) -> Iterator[int]:
        if type(x) is Collection:
            x = x.value if x.value is not None else DelugeList()
        if type(x) is not DelugeList:
            raise DelugeRuntimeError(f"Cannot iterate over the indexes of {type_name(x)}")
        return compress(
            range(len(x)), self._chain if cost == 1 else islice(self._chain, cost - 1, None, cost)
        )

    # --- helpers ------------------------------------------------------------------------------
    def _helpers(self) -> dict[str, Any]:
        g: dict[str, Any] = {
            "__builtins__": {},
            "rt_tick": self._chain.__next__,
            "rt_each": self._each,
            "rt_each_index": self._each_index,
            "rt_add": self._add,
            "rt_sub": ops.sub,
            "rt_mul": ops.mul,
            "rt_div": ops.div,
            "rt_mod": ops.mod,
            "rt_neg": ops.neg,
            "rt_pos": ops.pos,
            "rt_not": ops.not_,
            "rt_eq": ops.eq,
            "rt_ne": ops.ne,
            "rt_lt": ops.lt,
            "rt_le": ops.le,
            "rt_gt": ops.gt,
            "rt_ge": ops.ge,
            "rt_cond": ops.cond,
            "rt_ovf": _overflow,
            "rt_cat": self._cat,
            "rt_call": self._call,
            "rt_fn": self._fn,
            "rt_list": self._list,
            "rt_map": self._map,
            "rt_coll": Collection,
            "rt_newmap": self._newmap,
            "rt_newlist": self._newlist,
            "rt_typedlist": self._typedlist,
            "rt_date": self._date,
            "rt_sys": self._sys,
            "rt_now": self._now,
            "rt_today": self._today,
            "rt_info": self._info,
            "rt_throw": _throw,
            "rt_caught": self._caught,
            "rt_crm": self._crm,
            "rt_enc": self._enc,
            "rt_unsupported": _unsupported,
            "rt_callfn": self._callfn,
            "rt_task": self._task,
            "rt_req": _required,
            "rt_isnull": _isnull,
            "rt_istr": _int_text,
            "rt_input": self._input,
            "rt_RuntimeError": DelugeRuntimeError,
        }
        assert set(g) - {"__builtins__"} == HELPER_NAMES
        return g

    def _text_limit(self, n: int) -> None:
        if n > self.limits.text_chars:
            raise DelugeLimitError(f"Text exceeds the limit of {self.limits.text_chars} characters")

    def _add(self, a: Any, b: Any) -> Any:
        ta, tb = type(a), type(b)
        if ta is int and tb is int:
            r = a + b
            if NUMBER_MIN <= r <= NUMBER_MAX:
                return r
            raise DelugeRuntimeError("Number out of range")
        if ta is str or tb is str:
            left = a if ta is str else _int_text(a) if ta is int else text_form(a)
            right = b if tb is str else _int_text(b) if tb is int else text_form(b)
            r = left + right
            if len(r) > 4096:
                self._text_limit(len(r))
                self.charge(len(r))
            return r
        return ops.add(a, b)

    def _cat(self, s: str, e: Any) -> str:
        text = e if type(e) is str else text_form(e)
        n = len(text)
        if n > 256:
            self._text_limit(len(s) + n)
            self.charge(n)
        elif len(s) + n > self.limits.text_chars:
            self._text_limit(len(s) + n)
        return text

    def _call(self, recv: Any, name: str, *args: Any) -> Any:
        tag = TYPE_NAMES.get(type(recv))
        if tag is COLLECTION:
            if recv.value is not None:
                recv = recv.value
                tag = TYPE_NAMES[type(recv)]
        table = registry.METHODS[tag] if tag is not None else {}
        b = table.get(name)
        if b is None:
            spelled = self.spellings.get(name, name)
            if recv is None:
                raise DelugeRuntimeError(f"Cannot call '{spelled}' on a null value")
            raise DelugeRuntimeError(f"'{spelled}' is not a function of {type_name(recv)}")
        n = len(args)
        if n < b.min_args or (b.max_args is not None and n > b.max_args):
            raise DelugeRuntimeError(b.arity_error(n))
        return b.fn(self, recv, *args)

    def _fn(self, name: str, *args: Any) -> Any:
        b = registry.FUNCTIONS.get(name)
        if b is not None:
            n = len(args)
            if n < b.min_args or (b.max_args is not None and n > b.max_args):
                raise DelugeRuntimeError(b.arity_error(n))
            return b.fn(self, *args)
        legacy = tasks.LEGACY_FUNCTIONS.get(name)
        if legacy is not None:
            return legacy(self, *args)
        spelled = self.spellings.get(name, name)
        if not args or not any(name in registry.METHODS[t] for t in registry.ALL_TYPES):
            raise DelugeRuntimeError(f"Function '{spelled}' does not exist")
        return self._call(args[0], name, *args[1:])

    def _list(self, *items: Any) -> DelugeList:
        return DelugeList(items)

    def _map(self, *kv: Any) -> DelugeMap:
        m = DelugeMap()
        for i in range(0, len(kv), 2):
            k = kv[i]
            if type(k) in (DelugeList, DelugeMap, Collection):
                raise DelugeRuntimeError(f"A {type_name(k)} cannot be a map key")
            m[k] = kv[i + 1]
        return m

    def _input(self, *kv: Any) -> DelugeMap:
        """``input``: the arguments as a new MAP; implicit arguments not given are left out."""
        m = DelugeMap()
        for i in range(0, len(kv), 2):
            if kv[i + 1] is not Ellipsis:
                m[kv[i]] = kv[i + 1]
        return m

    def _newmap(self, *args: Any) -> DelugeMap:
        if not args:
            return DelugeMap()
        if len(args) == 1:
            src = args[0]
            if type(src) is Collection and type(src.value) is DelugeMap:
                src = src.value
            if type(src) is DelugeMap:
                return DelugeMap(src)
            if type(src) is str:
                from .jsonparse import JSONSyntaxError, parse_json

                try:
                    parsed = parse_json(src, check=self.check_deadline)
                except JSONSyntaxError:
                    parsed = None
                if type(parsed) is DelugeMap:
                    return parsed
        raise DelugeRuntimeError("Map() takes no argument or a MAP")

    def _newlist(self, *args: Any) -> DelugeList:
        if not args:
            return DelugeList()
        if len(args) == 1 and type(args[0]) is DelugeList:
            return DelugeList(args[0])
        return DelugeList(args)

    def _typedlist(self, type_text: str, *args: Any) -> DelugeList:
        from .builtins.lists import make_typed_list

        lst = make_typed_list(type_text)
        if args:
            self._call(
                lst,
                "addall",
                DelugeList(args[0] if len(args) == 1 and type(args[0]) is DelugeList else args),
            )
        return lst

    def _date(self, text: str) -> DateTime:
        from .datetimes import parse_date_literal

        d = parse_date_literal(text, self.tz, self.month_first, self.now().year)
        if d is None:  # pragma: no cover - the parser only emits date-shaped literals
            raise DelugeRuntimeError(f"Invalid date '{text}'")
        return d

    def _now(self) -> DateTime:
        from .builtins.dates import current_time

        return current_time(self)

    def _today(self) -> DateTime:
        from .builtins.dates import current_date

        return current_date(self)

    def _sys(self, name: str) -> Any:
        if name == "currenttime":
            return self._now()
        if name == "currentdate":
            return self._today()
        if name == "loginuser":
            return self.host.login_user().name
        if name == "loginuserid":
            return self.host.login_user().email
        if name == "adminuser":
            return self.host.admin_user().name
        if name == "adminuserid":
            return self.host.admin_user().email
        return None  # zoho.appname, appuri, ipaddress: Creator-only, null in CRM

    def _info(self, value: Any) -> None:
        if self.info_full:
            return
        text = info_text(value)
        lim = self.limits
        size = len(text.encode("utf-8", "surrogatepass"))
        if len(self.info) >= lim.info_entries or self.info_bytes >= lim.info_bytes:
            self._info_truncate()
            return
        if self.info_bytes + size > lim.info_bytes:
            room = lim.info_bytes - self.info_bytes
            text = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
            self._emit(text, size)
            self._info_truncate()
            return
        self._emit(text, size)

    def _emit(self, text: str, size: int) -> None:
        self.info.append(text)
        self.info_bytes += size
        if self.on_info is not None:
            self.on_info(text)

    def _info_truncate(self) -> None:
        self.info_full = True
        self.info.append(INFO_TRUNCATED)
        if self.on_info is not None:
            self.on_info(INFO_TRUNCATED)

    def _crm(self, task: str, *args: Any) -> Any:
        task = CRM_ALIASES.get(task, task)
        result = self.host.crm_task(task, list(args))
        return checked_value(result)

    def _enc(self, task: str, *args: Any) -> Any:
        from .builtins.crypto import ENCRYPTION_TASKS

        b = ENCRYPTION_TASKS.get(task)
        if b is None:
            raise DelugeRuntimeError(f"Task 'zoho.encryption.{task}' does not exist")
        n = len(args)
        if n < b.min_args or (b.max_args is not None and n > b.max_args):
            raise DelugeRuntimeError(b.arity_error(n))
        return b.fn(self, *args)

    def _task(self, task: str, *kv: Any) -> Any:
        params = {kv[i]: kv[i + 1] for i in range(0, len(kv), 2)}
        return tasks.TASK_BLOCKS[task](self, params)

    # --- calls between functions --------------------------------------------------------------
    def _callfn(self, category: str, api_name: str, *args: Any) -> Any:
        if category != "standalone":
            raise DelugeRuntimeError(
                f"Function '{category}.{api_name}' cannot be called from Deluge"
            )
        key = api_name.lower()
        prog = self.programs.get(key)
        if prog is None:
            if self.root is not None and self.root.api_name.lower() == key:
                prog = self.root
            else:
                prog = self.host.resolve_function(api_name)
            if prog is None:
                raise DelugeRuntimeError(f"Function 'standalone.{api_name}' does not exist")
            self.programs[key] = prog
        expected = len(prog.params) if prog.return_type is not None else len(prog.implicit_args)
        if len(args) != expected:
            raise DelugeRuntimeError(
                f"Function 'standalone.{api_name}' expects {expected} argument{'s' if expected != 1 else ''} but got {len(args)}"
            )
        if self.depth + 1 > self.limits.call_depth:
            raise DelugeLimitError(
                f"Function call depth exceeded the limit of {self.limits.call_depth}"
            )
        values = self.bind_positional(prog, list(args))
        self.depth += 1
        try:
            result = self.invoke(prog, values)
        finally:
            self.depth -= 1
        return result

    def bind_positional(self, prog: Program, args: list[Any]) -> list[Any]:
        from .builtins.conversions import convert_argument

        if prog.return_type is None:
            return args
        return [convert_argument(a, t, name, self) for a, (name, t) in zip(args, prog.params)]

    def bind_named(self, prog: Program, args: dict[str, Any]) -> list[Any]:
        from .builtins.conversions import convert_argument

        if prog.return_type is None:
            return [args.get(name, ...) for name in prog.implicit_args]
        out = []
        for (name, t), (line, col) in zip(prog.params, prog.param_positions):
            try:
                out.append(convert_argument(args.get(name), t, name, self))
            except DelugeError as exc:
                raise exc.at(line, col) from None
        return out

    def _dispatcher(self, name: str, arity: int) -> Callable[..., Any]:
        """``rt_m<arity>_<name>``: method call through the type table, slow path on a miss."""
        get = dict(registry.BY_ARITY[arity].get(name, {})).get  # a plain dict: faster lookups
        ctx, slow = self, self._call
        if arity == 0:

            def m0(recv: Any) -> Any:
                fn = get(type(recv))
                if fn is not None:
                    return fn(ctx, recv)
                return slow(recv, name)

            return m0
        if arity == 1:

            def m1(recv: Any, a: Any) -> Any:
                fn = get(type(recv))
                if fn is not None:
                    return fn(ctx, recv, a)
                return slow(recv, name, a)

            return m1
        if arity == 2:

            def m2(recv: Any, a: Any, b: Any) -> Any:
                fn = get(type(recv))
                if fn is not None:
                    return fn(ctx, recv, a, b)
                return slow(recv, name, a, b)

            return m2

        def mn(recv: Any, *args: Any) -> Any:
            fn = get(type(recv))
            if fn is not None:
                return fn(ctx, recv, *args)
            return slow(recv, name, *args)

        return mn

    def invoke(self, prog: Program, values: list[Any]) -> Any:
        self.spellings.update(prog.spellings)
        g = self.globals
        for name, arity in prog.method_helpers:
            key = f"rt_m{arity}_{name}"
            if key not in g:
                g[key] = self._dispatcher(name, arity)
        fn = FunctionType(prog.code, self.globals, "deluge_main")
        result = fn(*values)
        if prog.return_type is None:
            return result
        if prog.return_type == "void":
            return None
        from .builtins.conversions import convert_return

        return convert_return(result, prog.return_type, self)

    # --- top level ------------------------------------------------------------------------------
    def run(self, prog: Program, args: dict[str, Any] | None = None) -> Result:
        """Run ``prog`` with named arguments; never raises for anything a script does."""
        self.root = prog
        token = CURRENT.set(self)
        armed = ARMED.set(True)
        start = time.perf_counter()
        self.deadline = time.monotonic() + self.limits.time_s
        try:
            values = self.bind_named(prog, args or {})
            self.depth = 1
            value = self.invoke(prog, values)
            self.check_return_size(value)
            status, error = "success", None
        except DelugeError as exc:
            if not isinstance(exc, DelugeLimitError):
                self.refund(exc.__traceback__)
            value, status, error = None, "failure", self.locate(exc, prog)
        except (Exception, TripwireError) as exc:  # a floodway bug or a tripped wire
            ARMED.set(False)  # reporting may load modules; the run is over
            ref = secrets.token_hex(3)
            log.error(
                "internal error %s in %s:\n%s",
                ref,
                prog.api_name,
                "".join(traceback.format_exception(exc)),
            )
            err = DelugeInternalError(f"Internal error (reference {ref})")
            line, col = self._where(exc.__traceback__)
            value, status, error = None, "failure", err.at(line, col)
        finally:
            ARMED.reset(armed)
            CURRENT.reset(token)
        duration = (time.perf_counter() - start) * 1000
        return Result(
            status, value, self.info, error, self.statements, duration, self.client_actions
        )

    def check_return_size(self, value: Any) -> None:
        """The return value's text must fit the limit (its location: the function's start)."""
        if value is None or type(value) in (int, float, bool):
            return
        try:
            size = len(value) if type(value) is str else len(to_json_text(value))
        except DelugeError as exc:
            raise exc.at(1, 1) from None
        if size > self.limits.return_bytes:
            mb = f"{self.limits.return_bytes / (1024 * 1024):g}"
            raise DelugeLimitError(f"Return value exceeds {mb} MB", 1, 1)

    def _where(self, tb: TracebackType | None) -> tuple[int | None, int | None]:
        frames = _deluge_frames(tb)
        if not frames:
            return None, None
        return _position(*frames[0])

    def locate(self, exc: DelugeError, prog: Program) -> DelugeError:
        frames = _deluge_frames(exc.__traceback__)
        if frames and exc.line is None:
            line, col = _position(*frames[0])
            if len(frames) > 1 and not isinstance(exc, DelugeLimitError):
                inner_code, inner_lasti = frames[-1]
                iline, icol = _position(inner_code, inner_lasti)
                callee = inner_code.co_filename[len("<deluge:") : -1]
                if inner_code is not frames[0][0]:
                    exc.message = (
                        f"{exc.message} (in standalone.{callee} at line {iline}, column {icol})"
                    )
            exc.at(line, col)
        return exc


def checked_value(v: Any) -> Any:
    """Reject anything but Deluge values at the host boundary (security.md SB-4)."""
    stack = [v]
    count = 0
    while stack:
        x = stack.pop()
        t = type(x)
        if t not in TYPE_NAMES:
            raise DelugeInternalError("host returned a value that is not a Deluge value")
        if t is DelugeList:
            stack.extend(x)
        elif t is DelugeMap:
            stack.extend(x.keys())
            stack.extend(x.values())
        elif t is Collection and x.value is not None:
            stack.append(x.value)
        count += 1
        if count > 5_000_000:
            break
    return v


_int_text = int.__repr__


def _overflow() -> Any:
    raise DelugeRuntimeError("Number out of range")


def _throw(value: Any) -> None:
    raise DelugeRuntimeError(text_form(value))


def _unsupported(path: str, *args: Any) -> None:
    raise DelugeRuntimeError(f"Task '{path}' is not supported by floodway")


def _required(value: Any, name: str) -> Any:
    if value is Ellipsis:
        raise DelugeRuntimeError(f"Argument '{name}' was not given a value")
    return value


def _isnull(value: Any) -> bool:
    return value is None
