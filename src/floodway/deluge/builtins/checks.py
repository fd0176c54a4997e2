"""Boolean checks of every type (deluge-language.md §8.7, §7): ``isNull``, ``isEmpty``,
``isBlank``, ``isValidObject``, ``isText``, ``isNumber``, ``isDate`` (non-TEXT) and ``isFile``.

They are registered on the null tag too, because calling them on null is allowed (§7). Several
checks answer **null** instead of false for receivers they do not apply to (``isText`` of a LIST,
MAP or BOOLEAN; ``isNumber``/``isDate`` of a LIST or MAP), as Zoho's pages show. ``isDate`` on TEXT
is registered by the date module; ``isEven``/``isOdd`` live in ``numbers``.
"""

from __future__ import annotations

from typing import Any, Final

from ..context import Context
from ..registry import ALL_TYPES, method
from ..values import (
    BOOLEAN,
    COLLECTION,
    DATETIME,
    DECIMAL,
    FILE,
    LIST,
    MAP,
    NULL,
    NUMBER,
    TEXT,
    Collection,
    DateTime,
    DelugeList,
    DelugeMap,
    File,
)
from .numbers import parse_number_text

_CONTAINERS: Final = (LIST, MAP, COLLECTION)


def is_empty_value(v: Any) -> bool:
    """null, ``""``, or an empty LIST / MAP / COLLECTION."""
    t = type(v)
    if v is None:
        return True
    if t is str or t is DelugeList or t is DelugeMap:
        return len(v) == 0
    if t is Collection:
        return v.value is None or len(v.value) == 0
    return False


@method(ALL_TYPES, "isNull")
def check_is_null(ctx: Context, v: Any) -> bool:
    return v is None or (type(v) is str and v == "")


@method(ALL_TYPES, "isEmpty")
def check_is_empty(ctx: Context, v: Any) -> bool:
    return is_empty_value(v)


@method(ALL_TYPES, "isBlank")
def check_is_blank(ctx: Context, v: Any) -> bool:
    # str.strip() removes all Unicode whitespace, U+00A0 included (D-52).
    if type(v) is str:
        return v.strip() == ""
    return is_empty_value(v)


@method(ALL_TYPES, "isValidObject")
def check_is_valid_object(ctx: Context, v: Any) -> bool:
    return not is_empty_value(v)


@method((TEXT, NUMBER, DECIMAL, DATETIME, NULL, FILE), "isText")
def check_is_text(ctx: Context, v: Any) -> bool:
    return type(v) is str and parse_number_text(v) is None


@method((BOOLEAN, *_CONTAINERS), "isText")
def check_is_text_null(ctx: Context, v: Any) -> None:
    """Zoho: ``isText`` of a LIST, MAP or BOOLEAN is null, not false."""
    return None


@method((TEXT, NUMBER, DECIMAL, BOOLEAN, DATETIME, NULL, FILE), "isNumber")
def check_is_number(ctx: Context, v: Any) -> bool:
    t = type(v)
    if t is int or t is float:
        return True
    return t is str and parse_number_text(v) is not None


@method(_CONTAINERS, "isNumber", "isDate")
def check_container_null(ctx: Context, v: Any) -> None:
    """Zoho: ``isNumber`` and ``isDate`` of a LIST or MAP are null, not false."""
    return None


@method((NUMBER, DECIMAL, BOOLEAN, DATETIME, NULL, FILE), "isDate")
def check_is_date(ctx: Context, v: Any) -> bool:
    return type(v) is DateTime


@method(ALL_TYPES, "isFile")
def check_is_file(ctx: Context, v: Any) -> bool:
    return type(v) is File
