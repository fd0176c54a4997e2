"""Deluge values and their text and JSON forms.

A Deluge program only ever holds these Python objects (security.md SB-4):

    TEXT -> str, NUMBER -> int (never bool), DECIMAL -> float, BOOLEAN -> bool, null -> None,
    LIST -> DelugeList, MAP -> DelugeMap, COLLECTION -> Collection, DATE-TIME -> DateTime,
    FILE -> File.

Types are told apart with exact ``type(v) is ...`` checks: ``bool`` is a subclass of ``int`` in
Python but BOOLEAN and NUMBER are different Deluge types.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
from collections.abc import Iterable
from typing import Any, Final

from .errors import DelugeRuntimeError

NUMBER_MIN: Final = -(2**63)
NUMBER_MAX: Final = 2**63 - 1
MAX_VALUE_DEPTH: Final = 1000

TEXT: Final = "TEXT"
NUMBER: Final = "NUMBER"
DECIMAL: Final = "DECIMAL"
BOOLEAN: Final = "BOOLEAN"
NULL: Final = "null"
LIST: Final = "LIST"
MAP: Final = "MAP"
COLLECTION: Final = "COLLECTION"
DATETIME: Final = "DATE-TIME"
FILE: Final = "FILE"

MONTHS_SHORT: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


class DelugeList(list[Any]):
    """An ordered, mutable LIST; ``elem_type`` is set for typed lists (``List:String()``)."""

    __slots__ = ("elem_type",)

    def __init__(self, items: Iterable[Any] = (), elem_type: str | None = None) -> None:
        super().__init__(items)
        self.elem_type = elem_type


class DelugeMap(dict[Any, Any]):
    """An insertion-ordered, mutable MAP."""

    __slots__ = ()


class Collection:
    """``Collection()`` / ``{}``: becomes a LIST on ``add`` and a MAP on ``put`` (D-17).

    The wrapper keeps reference semantics: every name bound to the collection sees it change.
    """

    __slots__ = ("value",)

    def __init__(self, value: DelugeList | DelugeMap | None = None) -> None:
        self.value = value


class DateTime:
    """A DATE-TIME: an aware datetime in the org time zone and a date-only flag."""

    __slots__ = ("date_only", "dt")

    def __init__(self, dt: _dt.datetime, date_only: bool = False) -> None:
        if date_only:
            dt = dt.replace(hour=0, minute=0, second=0, microsecond=0)
        self.dt = dt
        self.date_only = date_only

    def __eq__(self, other: object) -> bool:
        return type(other) is DateTime and self.dt == other.dt

    def __hash__(self) -> int:
        return hash(self.dt)

    def __repr__(self) -> str:
        return f"DateTime({text_form(self)!r})"

    def text(self) -> str:
        d = self.dt
        day = f"{d.day:02d}-{MONTHS_SHORT[d.month - 1]}-{d.year:04d}"
        if self.date_only:
            return day
        return f"{day} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"


class File:
    """A FILE: bytes with a file name, a content type and a multipart parameter name."""

    __slots__ = ("content", "content_type", "name", "param_name")

    def __init__(
        self,
        name: str,
        content: bytes,
        content_type: str = "application/octet-stream",
        param_name: str = "file",
    ) -> None:
        self.name = name
        self.content = content
        self.content_type = content_type
        self.param_name = param_name


TYPE_NAMES: Final[dict[type, str]] = {
    str: TEXT,
    int: NUMBER,
    float: DECIMAL,
    bool: BOOLEAN,
    type(None): NULL,
    DelugeList: LIST,
    DelugeMap: MAP,
    Collection: COLLECTION,
    DateTime: DATETIME,
    File: FILE,
}


def type_name(value: object) -> str:
    """Deluge type name of a value, as used in error messages (``TEXT``, ``LIST``...)."""
    name = TYPE_NAMES.get(type(value))
    if name is None:
        raise TypeError(f"not a Deluge value: {type(value).__name__}")
    if name == COLLECTION:
        inner = value.value  # type: ignore[attr-defined]
        return COLLECTION if inner is None else TYPE_NAMES[type(inner)]
    return name


def check_number(n: int) -> int:
    """Range-check a NUMBER result (D-03)."""
    if NUMBER_MIN <= n <= NUMBER_MAX:
        return n
    raise DelugeRuntimeError("Number out of range")


def check_decimal(x: float) -> float:
    if math.isfinite(x):
        return x
    raise DelugeRuntimeError("Number out of range")


def decimal_text(x: float) -> str:
    """Shortest round-trip digits, always a fractional part, never an exponent (D-04)."""
    r = repr(x)
    if "e" in r or "E" in r:
        if not math.isfinite(x):
            raise DelugeRuntimeError("Number out of range")
        r = format(decimal.Decimal(r), "f")
    if "." not in r:
        r += ".0"
    return r


def _scalar_text(v: Any) -> str | None:
    t = type(v)
    if t is str:
        return v  # type: ignore[no-any-return]
    if t is int:
        return str(v)
    if t is bool:
        return "true" if v else "false"
    if t is float:
        return decimal_text(v)
    if t is DateTime:
        return v.text()  # type: ignore[no-any-return]
    if t is File:
        return v.name  # type: ignore[no-any-return]
    return None


def text_form(v: Any) -> str:
    """The text a value becomes in concatenation and ``toString()`` (§3.4); null is empty."""
    s = _scalar_text(v)
    if s is not None:
        return s
    t = type(v)
    if v is None:
        return ""
    if t is Collection:
        if v.value is None:
            return "{}"
        return text_form(v.value)
    if t is DelugeMap:
        return to_json_text(v)
    if t is DelugeList:
        parts = []
        for e in v:
            es = _scalar_text(e)
            if es is None:
                es = "null" if e is None else to_json_text(e)
            parts.append(es)
        return ",".join(parts)
    raise TypeError(f"not a Deluge value: {t.__name__}")


def info_text(v: Any) -> str:
    """Text logged by ``info``: like ``text_form`` but a lone null prints ``null`` (D-09)."""
    return "null" if v is None else text_form(v)


_ESCAPES: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_scalar(v: Any) -> str | None:
    t = type(v)
    if t is str:
        return json_string(v)
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        if not math.isfinite(v):
            raise DelugeRuntimeError("Number out of range")
        return decimal_text(v)
    if t is DateTime or t is File:
        return json_string(_scalar_text(v) or "")
    return None


_FAST_DEPTH: Final = 200
_fast_encoder = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False, allow_nan=False
)


def _plain_json_tree(value: Any) -> bool:
    """True when the C encoder writes exactly our JSON for this value (checked first, cheaply).

    That holds for TEXT keys, scalars other than DATE-TIME/FILE, finite decimals whose ``repr``
    has no exponent, and nesting well within the interpreter's recursion guard.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > _FAST_DEPTH:
            return False
        items = v.values() if type(v) is DelugeMap else v
        if type(v) is DelugeMap:
            for k in v:
                if type(k) is not str:
                    return False
        for x in items:
            t = type(x)
            if t is str or t is bool or x is None:
                continue
            if t is int:
                if NUMBER_MIN <= x <= NUMBER_MAX:
                    continue
                return False
            if t is float:
                if x == 0.0 or 1e-4 <= abs(x) < 1e16:
                    continue
                return False
            if t is DelugeList or t is DelugeMap:
                stack.append((x, depth + 1))
                continue
            return False
    return True


def to_json_text(value: Any) -> str:
    """Compact JSON of a value (§3.3), insertion order, iterative so depth never hits C limits."""
    s = _json_scalar(value)
    if s is not None:
        return s
    if (type(value) is DelugeMap or type(value) is DelugeList) and _plain_json_tree(value):
        return _fast_encoder.encode(value)
    out: list[str] = []
    # Each stack frame: (iterator over items, is_map, first?)
    stack: list[list[Any]] = []

    def open_container(v: Any) -> None:
        if type(v) is Collection:
            v = v.value if v.value is not None else DelugeMap()
        if len(stack) >= MAX_VALUE_DEPTH:
            raise DelugeRuntimeError("Value is nested too deeply")
        if type(v) is DelugeMap:
            out.append("{")
            stack.append([iter(v.items()), True, True])
        elif type(v) is DelugeList:
            out.append("[")
            stack.append([iter(v), False, True])
        else:
            raise TypeError(f"not a Deluge value: {type(v).__name__}")

    open_container(value)
    while stack:
        frame = stack[-1]
        it, is_map, first = frame
        try:
            item = next(it)
        except StopIteration:
            out.append("}" if is_map else "]")
            stack.pop()
            continue
        if not first:
            out.append(",")
        frame[2] = False
        if is_map:
            k, v = item
            out.append(json_string(k if type(k) is str else text_form(k)))
            out.append(":")
        else:
            v = item
        s = _json_scalar(v)
        if s is not None:
            out.append(s)
        else:
            open_container(v)
    return "".join(out)


def to_plain(value: Any) -> Any:
    """Plain Python JSON-able structure (dict/list/str/int/float/bool/None) of a value."""
    import json

    return json.loads(to_json_text(value))
