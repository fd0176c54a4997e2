"""Deluge operators on values (deluge-language.md §5): arithmetic, comparison, conditions.

Pure functions on Deluge values; the runtime binds them as ``rt_add``, ``rt_eq``, ... The compiler
bypasses them only where its type analysis proved plain ``int``/``str`` operands.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Final

from .errors import DelugeRuntimeError
from .values import (
    MAX_VALUE_DEPTH,
    NUMBER_MAX,
    NUMBER_MIN,
    Collection,
    DateTime,
    DelugeList,
    DelugeMap,
    text_form,
    type_name,
)

_NUMERIC: Final = (int, float)


def _is_num(v: Any) -> bool:
    t = type(v)
    return t is int or t is float


def _bad(op: str, a: Any, b: Any) -> DelugeRuntimeError:
    if a is None or b is None:
        return DelugeRuntimeError(f"Cannot perform '{op}' on a null value")
    return DelugeRuntimeError(
        f"Operator '{op}' is not defined for {type_name(a)} and {type_name(b)}"
    )


def _num(r: Any) -> Any:
    if type(r) is int:
        if NUMBER_MIN <= r <= NUMBER_MAX:
            return r
        raise DelugeRuntimeError("Number out of range")
    if math.isfinite(r):
        return r
    raise DelugeRuntimeError("Number out of range")


def add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        r = a + b
        if NUMBER_MIN <= r <= NUMBER_MAX:
            return r
        raise DelugeRuntimeError("Number out of range")
    if ta is str or tb is str:
        return (a if ta is str else text_form(a)) + (b if tb is str else text_form(b))
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _num(a + b)
    if ta is DateTime and tb is int:
        from .datetimes import add_days

        return add_days(a, b)
    raise _bad("+", a, b)


def sub(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _num(a - b)
    if ta is DateTime:
        if tb is int:
            from .datetimes import add_days

            return add_days(a, -b)
        if tb is DateTime:
            from .datetimes import millis_between

            return millis_between(b, a)
    raise _bad("-", a, b)


def mul(a: Any, b: Any) -> Any:
    if _is_num(a) and _is_num(b):
        return _num(a * b)
    raise _bad("*", a, b)


def div(a: Any, b: Any) -> Any:
    if _is_num(a) and _is_num(b):
        if b == 0:
            raise DelugeRuntimeError("Division by zero")
        if type(a) is int and type(b) is int:
            if a % b == 0:
                return _num(a // b)
            return _num(a / b)  # D-01: inexact division of NUMBERs gives a DECIMAL
        return _num(a / b)
    raise _bad("/", a, b)


def mod(a: Any, b: Any) -> Any:
    if _is_num(a) and _is_num(b):
        if b == 0:
            raise DelugeRuntimeError("Division by zero")
        if type(a) is int and type(b) is int:
            r = abs(a) % abs(b)  # D-02: the sign of the left operand, as in Java
            return r if a >= 0 else -r
        return _num(math.fmod(a, b))
    raise _bad("%", a, b)


def neg(a: Any) -> Any:
    if _is_num(a):
        return _num(-a)
    if a is None:
        raise DelugeRuntimeError("Cannot perform '-' on a null value")
    raise DelugeRuntimeError(f"Operator '-' is not defined for {type_name(a)}")


def pos(a: Any) -> Any:
    if _is_num(a):
        return a
    if a is None:
        raise DelugeRuntimeError("Cannot perform '+' on a null value")
    raise DelugeRuntimeError(f"Operator '+' is not defined for {type_name(a)}")


def cond(v: Any) -> bool:
    if type(v) is bool:
        return v
    raise DelugeRuntimeError(f"Condition must be BOOLEAN but was {type_name(v)}")


def not_(v: Any) -> bool:
    if type(v) is bool:
        return not v
    raise DelugeRuntimeError(f"Condition must be BOOLEAN but was {type_name(v)}")


def text_number(s: str) -> int | float | None:
    """The numeric value of text that is a number literal (trimmed), else None (D-08)."""
    t = s.strip()
    if not t or len(t) > 400:
        return None
    body = t[1:] if t[0] in "+-" else t
    if not body:
        return None
    if body.isdigit() and body.isascii():
        return int(t)
    head, dot, tail = body.partition(".")
    if (
        dot
        and (head or tail)
        and (not head or (head.isdigit() and head.isascii()))
        and (not tail or (tail.isdigit() and tail.isascii()))
    ):
        return float(t)
    return None


def _to_date(text: str) -> DateTime | None:
    """Date text read in the running execution's org settings; None when it is no date."""
    from .context import CURRENT
    from .datetimes import parse_date_text

    ctx = CURRENT.get()
    if ctx is None:
        return None
    try:
        return parse_date_text(text, ctx.tz, ctx.month_first, ctx.now())
    except DelugeRuntimeError:
        return None


def _scalar_eq(a: Any, b: Any) -> bool | None:
    """Equality of two non-container values, or None when one side is a container."""
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if (ta is int or ta is float) and (tb is int or tb is float):
        return bool(a == b)
    if ta is str and tb is str:
        return bool(a == b)
    if ta is str and (tb is int or tb is float):
        n = text_number(a)
        return n is not None and n == b
    if tb is str and (ta is int or ta is float):
        n = text_number(b)
        return n is not None and n == a
    if a is None or b is None:
        return a is None and b is None
    if ta is DateTime and tb is DateTime:
        return bool(a.dt == b.dt)
    if ta is DateTime and tb is str:
        d = _to_date(b)
        return d is not None and d.dt == a.dt
    if tb is DateTime and ta is str:
        d = _to_date(a)
        return d is not None and d.dt == b.dt
    if ta in (DelugeList, DelugeMap, Collection) or tb in (DelugeList, DelugeMap, Collection):
        return None
    return a is b


def _unwrap(v: Any) -> Any:
    if type(v) is Collection:
        return v.value if v.value is not None else DelugeMap()
    return v


def eq(a: Any, b: Any) -> bool:
    """``==`` of §5.3: never fails, except on values nested beyond the depth limit."""
    r = _scalar_eq(a, b)
    if r is not None:
        return r
    stack = [(_unwrap(a), _unwrap(b), 0)]
    while stack:
        x, y, depth = stack.pop()
        if depth > MAX_VALUE_DEPTH:
            raise DelugeRuntimeError("Value is nested too deeply")
        tx, ty = type(x), type(y)
        if tx is DelugeList and ty is DelugeList:
            if len(x) != len(y):
                return False
            pairs: Iterable[tuple[Any, Any]] = zip(x, y)
        elif tx is DelugeMap and ty is DelugeMap:
            if len(x) != len(y) or x.keys() != y.keys():
                return False
            pairs = ((x[k], y[k]) for k in x)
        else:
            return False
        for p, q in pairs:
            r = _scalar_eq(p, q)
            if r is None:
                stack.append((_unwrap(p), _unwrap(q), depth + 1))
            elif not r:
                return False
    return True


def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def _ordered(a: Any, b: Any) -> tuple[Any, Any]:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return a, b
    if ta is str and tb is str:
        return a, b
    if ta is DateTime and tb is DateTime:
        return a.dt, b.dt
    if ta is str and (tb is int or tb is float):
        n = text_number(a)
        if n is not None:
            return n, b
    if tb is str and (ta is int or ta is float):
        n = text_number(b)
        if n is not None:
            return a, n
    if ta is DateTime and tb is str:
        d = _to_date(b)
        if d is not None:
            return a.dt, d.dt
    if tb is DateTime and ta is str:
        d = _to_date(a)
        if d is not None:
            return d.dt, b.dt
    raise DelugeRuntimeError(f"Cannot compare {type_name(a)} and {type_name(b)}")


def lt(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x < y)


def le(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x <= y)


def gt(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x > y)


def ge(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x >= y)
