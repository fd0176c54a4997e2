"""Generic conversions (deluge-language.md §8.6) and the argument / return value conversions of
function headers (§13.2, §13.3).

``toString``/``toText`` of BOOLEAN, LIST, MAP, FILE and null live here (NUMBER/DECIMAL in
``numbers``, DATE-TIME and TEXT in their own modules). ``toNumber``/``toLong``/``toDecimal`` of
BOOLEAN, LIST and MAP are registered to fail with a conversion message naming the type, which is
clearer than "'toNumber' is not a function of LIST".
"""

from __future__ import annotations

from typing import Any, Final

from ..context import Context
from ..errors import DelugeLimitError, DelugeRuntimeError
from ..registry import method
from ..values import (
    BOOLEAN,
    FILE,
    LIST,
    MAP,
    NULL,
    NUMBER_MAX,
    NUMBER_MIN,
    Collection,
    DateTime,
    DelugeList,
    DelugeMap,
    text_form,
    type_name,
)
from .numbers import parse_number_text


@method((BOOLEAN, LIST, MAP, FILE, NULL), "toString", "toText")
def to_string(ctx: Context, v: Any) -> str:
    """Text form (§3.4); null gives ``""``."""
    s = text_form(v)
    if len(s) > ctx.limits.text_chars:
        raise_text_limit(ctx)
    if len(s) > 4096:
        ctx.charge(len(s))
    return s


def raise_text_limit(ctx: Context) -> None:
    raise DelugeLimitError(f"Text exceeds the limit of {ctx.limits.text_chars} characters")


@method((BOOLEAN, LIST, MAP), "toNumber", "toLong")
def no_to_number(ctx: Context, v: Any) -> int:
    raise DelugeRuntimeError(f"Cannot convert a {type_name(v)} to NUMBER")


@method((BOOLEAN, LIST, MAP), "toDecimal")
def no_to_decimal(ctx: Context, v: Any) -> float:
    raise DelugeRuntimeError(f"Cannot convert a {type_name(v)} to DECIMAL")


# ---------------------------------------------------------------------------------------------
# Header types (§3.2, §13.2, §13.3)

# Lower-case header type name -> canonical name.
HEADER_TYPES: Final[dict[str, str]] = {
    "string": "String",
    "text": "String",
    "int": "Int",
    "long": "Int",
    "integer": "Int",
    "number": "Int",
    "bigint": "Int",
    "decimal": "Decimal",
    "float": "Decimal",
    "double": "Decimal",
    "bool": "Bool",
    "boolean": "Bool",
    "date": "Date",
    "datetime": "DateTime",
    "map": "Map",
    "collection": "Map",
    "keyvalue": "Map",
    "list": "List",
    "void": "void",
}


def canonical_type(type_name_text: str) -> str:
    """Canonical header type name (``Int`` for ``long``); unknown names are a runtime error."""
    name = HEADER_TYPES.get(type_name_text.strip().lower())
    if name is None:
        raise DelugeRuntimeError(f"Unknown type '{type_name_text}'")
    return name


class _Unconvertible(Exception):
    """Internal signal: the value does not convert; the caller words the message."""


def _shown(v: Any) -> str:
    """The value as quoted in a conversion message: its text form, cut to keep messages short."""
    try:
        s = text_form(v)
    except DelugeRuntimeError:
        s = type_name(v)
    return s if len(s) <= 100 else s[:97] + "..."


def _to_int(v: Any) -> int:
    t = type(v)
    if t is int:
        return v  # type: ignore[no-any-return]
    if t is float and v.is_integer() and NUMBER_MIN <= v <= NUMBER_MAX:
        return int(v)
    if t is str:
        n = parse_number_text(v)
        if type(n) is int:
            return n
    raise _Unconvertible


def _to_decimal(v: Any) -> float:
    t = type(v)
    if t is int or t is float:
        return float(v)
    if t is str:
        n = parse_number_text(v)
        if n is not None:
            return float(n)
    raise _Unconvertible


def _to_bool(v: Any) -> bool:
    if type(v) is bool:
        return v  # type: ignore[no-any-return]
    if type(v) is str:
        s = v.strip().lower()
        if s in ("true", "false"):
            return s == "true"
    raise _Unconvertible


def _to_datetime(v: Any, ctx: Context, date_only: bool) -> DateTime:
    from .. import datetimes

    t = type(v)
    d: DateTime
    if t is DateTime:
        d = v
    elif t is int:
        try:
            d = datetimes.from_epoch_millis(v, ctx.tz)
        except (OverflowError, ValueError, OSError):
            raise _Unconvertible from None
    elif t is str:
        try:
            d = datetimes.parse_date_text(v, ctx.tz, ctx.month_first, ctx.now())
        except DelugeRuntimeError:
            raise _Unconvertible from None
    else:
        raise _Unconvertible
    if date_only and not d.date_only:
        return DateTime(d.dt, date_only=True)
    return d


def _parse_json_text(v: str, ctx: Context) -> Any:
    from ..jsonparse import JSONSyntaxError, parse_json

    try:
        return parse_json(v, check=ctx.check_deadline, max_items=ctx.limits.collection_items)
    except JSONSyntaxError:
        raise _Unconvertible from None


def _to_map(v: Any, ctx: Context) -> DelugeMap:
    if type(v) is Collection:
        if v.value is None:
            v.value = DelugeMap()
        v = v.value
    if type(v) is DelugeMap:
        return v
    if type(v) is str:
        if v.strip() == "":
            return DelugeMap()
        parsed = _parse_json_text(v, ctx)
        if type(parsed) is DelugeMap:
            return parsed
    raise _Unconvertible


def _to_list(v: Any, ctx: Context, split: bool) -> DelugeList:
    if type(v) is Collection:
        if v.value is None:
            v.value = DelugeList()
        v = v.value
    if type(v) is DelugeList:
        return v
    if type(v) is str:
        s = v.strip()
        if s == "":
            return DelugeList()
        if s.startswith("["):
            parsed = _parse_json_text(s, ctx)
            if type(parsed) is DelugeList:
                return parsed
            raise _Unconvertible
        if split:
            parts = s.split(",")
            if len(parts) > ctx.limits.collection_items:
                raise DelugeLimitError(
                    f"List exceeds the limit of {ctx.limits.collection_items} elements"
                )
            return DelugeList(p.strip() for p in parts)
    raise _Unconvertible


def _convert(value: Any, canonical: str, ctx: Context, for_argument: bool) -> Any:
    if canonical == "String":
        return text_form(value)
    if canonical == "Int":
        return _to_int(value)
    if canonical == "Decimal":
        return _to_decimal(value)
    if canonical == "Bool":
        return _to_bool(value)
    if canonical == "Date":
        return _to_datetime(value, ctx, True)
    if canonical == "DateTime":
        return _to_datetime(value, ctx, False)
    if canonical == "Map":
        return _to_map(value, ctx)
    if canonical == "List":
        return _to_list(value, ctx, split=for_argument)
    return value


def convert_argument(value: Any, type_name_text: str, arg_name: str, ctx: Context) -> Any:
    """A bound argument converted to its declared type (§13.2); null stays null.

    Failure: "Cannot convert 'abc' to Int for argument 'dealId'".
    """
    canonical = canonical_type(type_name_text)
    if value is None:
        return None
    try:
        return _convert(value, canonical, ctx, for_argument=True)
    except _Unconvertible:
        raise DelugeRuntimeError(
            f"Cannot convert '{_shown(value)}' to {canonical} for argument '{arg_name}'"
        ) from None


def convert_return(value: Any, type_name_text: str, ctx: Context) -> Any:
    """A returned value converted to the declared return type (§13.3); null stays null."""
    canonical = canonical_type(type_name_text)
    if canonical == "void" or value is None:
        return None
    try:
        return _convert(value, canonical, ctx, for_argument=False)
    except _Unconvertible:
        if canonical in ("Map", "List"):
            raise DelugeRuntimeError(f"Return value is not a {canonical.upper()}") from None
        raise DelugeRuntimeError(
            f"Cannot convert '{_shown(value)}' to {canonical} for the return value"
        ) from None
