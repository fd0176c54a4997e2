"""MAP built-ins (deluge-language.md §8.3) and the methods of an undecided COLLECTION (D-17).

A COLLECTION (``Collection()`` / ``{}``) decides its kind on first use: ``add``/``addAll``/
``insert`` make it a LIST, ``put``/``putAll`` a MAP. The runtime dispatches a decided collection
straight to its LIST or MAP, so the COLLECTION methods here only ever see an undecided one; the
reading methods treat it as empty.
"""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..errors import DelugeLimitError, DelugeRuntimeError
from ..matching import CHECK_EVERY, matches
from ..registry import method
from ..values import COLLECTION, MAP, Collection, DelugeList, DelugeMap, text_form, type_name
from . import lists


def check_map_size(ctx: Context, size: int) -> None:
    """Raise the limit error when a map would grow beyond ``collection_items`` (LM-3)."""
    cap = ctx.limits.collection_items
    if size > cap:
        raise DelugeLimitError(f"Map exceeds the limit of {cap} entries")


def _key(k: Any) -> Any:
    """A value usable as a map key; lists and maps cannot be keys."""
    if type(k) in (DelugeList, DelugeMap, Collection):
        raise DelugeRuntimeError(f"A {type_name(k)} cannot be a map key")
    return k


def _hashable(k: Any) -> bool:
    return type(k) not in (DelugeList, DelugeMap, Collection)


def as_map(v: Any, fn: str) -> DelugeMap:
    """A MAP argument (a COLLECTION that became a map counts); anything else is an error."""
    if type(v) is Collection:
        if v.value is None:
            return DelugeMap()
        v = v.value
    if type(v) is DelugeMap:
        return v
    raise DelugeRuntimeError(f"'{fn}' expects a MAP but got {type_name(v)}")


@method(MAP, "put")
def map_put(ctx: Context, m: DelugeMap, key: Any, value: Any) -> None:
    if type(key) is str:  # the common case, without further checks
        if len(m) >= ctx.limits.collection_items and key not in m:
            check_map_size(ctx, len(m) + 1)
        m[key] = value
        return
    k = _key(key)
    if k not in m:
        check_map_size(ctx, len(m) + 1)
    m[k] = value


@method(MAP, "putAll")
def map_put_all(ctx: Context, m: DelugeMap, other: Any) -> None:
    src = as_map(other, "putAll")
    new_keys = sum(1 for k in src if k not in m) if len(m) else len(src)
    check_map_size(ctx, len(m) + new_keys)
    if len(src) > 512:
        ctx.charge(100 * len(src))
    m.update(src)


@method(MAP, "insert")
def map_insert(ctx: Context, m: DelugeMap, *args: Any) -> None:
    """COLLECTION ``insert`` on a collection that is a map: ``insert(key, value)`` or
    ``insert(map)``."""
    if len(args) == 2:
        map_put(ctx, m, args[0], args[1])
    elif len(args) == 1:
        map_put_all(ctx, m, args[0])
    else:
        raise DelugeRuntimeError(f"'insert' takes 1 or 2 arguments but got {len(args)}")


@method(MAP, "get", "getJSON", "getJson")
def map_get(ctx: Context, m: DelugeMap, key: Any) -> Any:
    if type(key) is str or _hashable(key):
        return m.get(key)
    return None


@method(MAP, "keys")
def map_keys(ctx: Context, m: DelugeMap) -> DelugeList:
    if len(m) > 512:
        ctx.charge(8 * len(m))
    return DelugeList(m.keys())


@method(MAP, "values")
def map_values(ctx: Context, m: DelugeMap) -> DelugeList:
    """COLLECTION ``values()`` on a collection that became a map."""
    if len(m) > 512:
        ctx.charge(8 * len(m))
    return DelugeList(m.values())


@method(MAP, "remove")
def map_remove(ctx: Context, m: DelugeMap, key: Any) -> Any:
    if not _hashable(key):
        return None
    return m.pop(key, None)


@method(MAP, "clear")
def map_clear(ctx: Context, m: DelugeMap) -> None:
    m.clear()


@method(MAP, "size", "len", "length")
def map_size(ctx: Context, m: DelugeMap) -> int:
    return len(m)


@method(MAP, "containKey", "containsKey")
def map_contain_key(ctx: Context, m: DelugeMap, key: Any) -> bool:
    return _hashable(key) and key in m


@method(MAP, "notContains")
def map_not_contains(ctx: Context, m: DelugeMap, key: Any) -> bool:
    return not map_contain_key(ctx, m, key)


@method(MAP, "containValue", "containsValue")
def map_contain_value(ctx: Context, m: DelugeMap, value: Any) -> bool:
    for n, v in enumerate(m.values()):
        if n % CHECK_EVERY == CHECK_EVERY - 1:
            ctx.check_deadline()
        if matches(v, value, ctx):
            return True
    return False


@method(MAP, "toMap")
def map_to_map(ctx: Context, m: DelugeMap) -> DelugeMap:
    return m


# ---------------------------------------------------------------------------------------------
# Undecided COLLECTION (D-17)


def _as_list(c: Collection) -> DelugeList:
    if c.value is None:
        c.value = DelugeList()
    if type(c.value) is not DelugeList:
        raise DelugeRuntimeError("This collection is a MAP; use put to add entries")
    return c.value


def _as_map(c: Collection) -> DelugeMap:
    if c.value is None:
        c.value = DelugeMap()
    if type(c.value) is not DelugeMap:
        raise DelugeRuntimeError("This collection is a LIST; use add to add elements")
    return c.value


@method(COLLECTION, "add")
def coll_add(ctx: Context, c: Collection, x: Any) -> None:
    lists.list_add(ctx, _as_list(c), x)


@method(COLLECTION, "addAll")
def coll_add_all(ctx: Context, c: Collection, other: Any) -> None:
    src = lists.as_list(other, "addAll")  # check before deciding the kind
    lists.list_add_all(ctx, _as_list(c), src)


@method(COLLECTION, "insert")
def coll_insert(ctx: Context, c: Collection, *xs: Any) -> None:
    """``insert(v, …)`` makes a list; ``insert(key, value)`` with exactly two arguments stays
    ambiguous in Zoho's pages, so floodway reads any ``insert`` on an undecided collection as a
    list insert (a ``key:value`` argument arrives as a MAP and is added as one element)."""
    lists.list_insert(ctx, _as_list(c), *xs)


@method(COLLECTION, "put")
def coll_put(ctx: Context, c: Collection, key: Any, value: Any) -> None:
    _key(key)
    map_put(ctx, _as_map(c), key, value)


@method(COLLECTION, "putAll")
def coll_put_all(ctx: Context, c: Collection, other: Any) -> None:
    src = as_map(other, "putAll")
    map_put_all(ctx, _as_map(c), src)


@method(COLLECTION, "size", "len", "length")
def coll_size(ctx: Context, c: Collection) -> int:
    return 0


@method(COLLECTION, "toString", "toText")
def coll_to_string(ctx: Context, c: Collection) -> str:
    return text_form(c)


@method(COLLECTION, "toList", "toJSONList", "toJsonList", "keys", "values", "distinct")
def coll_empty_list(ctx: Context, c: Collection) -> DelugeList:
    return DelugeList()


@method(COLLECTION, "toMap")
def coll_to_map(ctx: Context, c: Collection) -> DelugeMap:
    return DelugeMap()


@method(COLLECTION, "get", "getJSON", "getJson", "remove")
def coll_get(ctx: Context, c: Collection, key: Any) -> None:
    return None


@method(
    COLLECTION,
    "containsKey",
    "containKey",
    "containsValue",
    "containValue",
    "contains",
)
def coll_contains(ctx: Context, c: Collection, x: Any) -> bool:
    return False


@method(COLLECTION, "notContains")
def coll_not_contains(ctx: Context, c: Collection, x: Any) -> bool:
    return True


@method(COLLECTION, "indexOf", "lastIndexOf")
def coll_index_of(ctx: Context, c: Collection, x: Any) -> int:
    return -1


@method(COLLECTION, "clear")
def coll_clear(ctx: Context, c: Collection) -> None:
    return None
