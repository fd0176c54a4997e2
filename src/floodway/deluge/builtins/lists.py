"""LIST built-ins (deluge-language.md §8.2): editing, searching, sorting and list statistics.

Typed lists (``List:String()``, §3.1, D-40) carry their element type in ``DelugeList.elem_type``;
every insertion goes through ``coerce_element`` which enforces it. Searches use element matching
(``floodway.deluge.matching``, D-72), never the ``==`` of §5.3.
"""

from __future__ import annotations

import math
from typing import Any, Final

from ..context import Context
from ..errors import DelugeLimitError, DelugeRuntimeError
from ..matching import CHECK_EVERY, MatchSet, index_of, last_index_of
from ..registry import method
from ..values import (
    BOOLEAN,
    DATETIME,
    DECIMAL,
    LIST,
    MAP,
    NUMBER,
    TEXT,
    Collection,
    DateTime,
    DelugeList,
    check_decimal,
    type_name,
)
from .numbers import parse_number_text

# Type names accepted in ``List:Type()`` (§3.1, §3.2), lower case, to the element type tag.
_TYPED_LIST_NAMES: Final[dict[str, str]] = {
    "string": TEXT,
    "text": TEXT,
    "int": NUMBER,
    "long": NUMBER,
    "integer": NUMBER,
    "number": NUMBER,
    "bigint": NUMBER,
    "decimal": DECIMAL,
    "float": DECIMAL,
    "double": DECIMAL,
    "bool": BOOLEAN,
    "boolean": BOOLEAN,
    "date": DATETIME,
    "datetime": DATETIME,
    "map": MAP,
    "list": LIST,
}


def make_typed_list(type_name_text: str) -> DelugeList:
    """A new empty typed list for ``List:String()`` and friends (case-insensitive names)."""
    elem = _TYPED_LIST_NAMES.get(type_name_text.lower())
    if elem is None:
        raise DelugeRuntimeError(f"Unknown list element type '{type_name_text}'")
    return DelugeList(elem_type=elem)


def coerce_element(lst: DelugeList, x: Any) -> Any:
    """The value to store when ``x`` goes into ``lst``; enforces typed lists (D-40).

    null is accepted by every list: it is the absence of a value, not another type.
    """
    elem = lst.elem_type
    if elem is None or x is None:
        return x
    actual = type_name(x)
    if actual == elem:
        return x
    if elem == DECIMAL and actual == NUMBER:
        return float(x)
    raise DelugeRuntimeError(f"Typed list accepts only {elem} values")


def check_list_size(ctx: Context, size: int) -> None:
    """Raise the limit error when a list would grow beyond ``collection_items`` (LM-3)."""
    cap = ctx.limits.collection_items
    if size > cap:
        raise DelugeLimitError(f"List exceeds the limit of {cap} elements")


def as_list(v: Any, fn: str) -> DelugeList:
    """A LIST argument (a COLLECTION that became a list counts); anything else is an error."""
    if type(v) is Collection:
        if v.value is None:
            return DelugeList()
        v = v.value
    if type(v) is DelugeList:
        return v
    raise DelugeRuntimeError(f"'{fn}' expects a LIST but got {type_name(v)}")


def to_index(v: Any) -> int:
    """An index argument: a NUMBER or a TEXT holding an integer (§8 general rules)."""
    if type(v) is int:
        return v
    if type(v) is str:
        s = v.strip()
        body = s[1:] if s[:1] in "+-" else s
        if body.isascii() and body.isdigit():
            return int(s)
        raise DelugeRuntimeError(f"Cannot convert '{v}' to NUMBER")
    raise DelugeRuntimeError(f"Index must be a NUMBER but was {type_name(v)}")


def _check_bounds(i: int, size: int) -> None:
    if i < 0 or i >= size:
        raise DelugeRuntimeError(f"Index {i} is out of range for a list of size {size}")


def _charge_list(ctx: Context, n: int) -> None:
    # A list slot is a pointer; the elements themselves are shared, not copied.
    if n > 512:
        ctx.charge(8 * n + 64)


# ---------------------------------------------------------------------------------------------
# Editing


@method(LIST, "add")
def list_add(ctx: Context, lst: DelugeList, x: Any) -> None:
    if lst.elem_type is None and len(lst) < ctx.limits.collection_items:
        lst.append(x)  # the common case: an untyped list below the size limit
        return
    check_list_size(ctx, len(lst) + 1)
    lst.append(coerce_element(lst, x))


@method(LIST, "insert")
def list_insert(ctx: Context, lst: DelugeList, *xs: Any) -> None:
    """COLLECTION ``insert(v1, v2, …)`` on a collection that is a list: append each value."""
    check_list_size(ctx, len(lst) + len(xs))
    lst.extend([coerce_element(lst, x) for x in xs])


@method(LIST, "addAll")
def list_add_all(ctx: Context, lst: DelugeList, other: Any) -> None:
    src = as_list(other, "addAll")
    check_list_size(ctx, len(lst) + len(src))
    _charge_list(ctx, len(src))
    # Coerce every element first so a typed-list violation leaves the receiver unchanged.
    if lst.elem_type is None:
        lst.extend(list(src))
    else:
        lst.extend([coerce_element(lst, x) for x in src])


@method(LIST, "clear")
def list_clear(ctx: Context, lst: DelugeList) -> None:
    lst.clear()


@method(LIST, "size", "len", "length")
def list_size(ctx: Context, lst: DelugeList) -> int:
    return len(lst)


@method(LIST, "get")
def list_get(ctx: Context, lst: DelugeList, index: Any) -> Any:
    i = to_index(index)
    _check_bounds(i, len(lst))
    return lst[i]


@method(LIST, "remove")
def list_remove(ctx: Context, lst: DelugeList, index: Any) -> Any:
    i = to_index(index)
    _check_bounds(i, len(lst))
    return lst.pop(i)


@method(LIST, "removeElement")
def list_remove_element(ctx: Context, lst: DelugeList, x: Any) -> None:
    if lst.elem_type is not None:
        x = coerce_element(lst, x)
    i = index_of(lst, x, ctx)
    if i >= 0:
        del lst[i]


@method(LIST, "removeAll")
def list_remove_all(ctx: Context, lst: DelugeList, other: Any) -> None:
    drop = MatchSet(as_list(other, "removeAll"), ctx)
    kept = []
    for n, e in enumerate(lst):
        if n % CHECK_EVERY == CHECK_EVERY - 1:
            ctx.check_deadline()
        if e not in drop:
            kept.append(e)
    lst[:] = kept


# ---------------------------------------------------------------------------------------------
# Searching


@method(LIST, "contains")
def list_contains(ctx: Context, lst: DelugeList, x: Any) -> bool:
    return index_of(lst, x, ctx) >= 0


@method(LIST, "notContains")
def list_not_contains(ctx: Context, lst: DelugeList, x: Any) -> bool:
    return index_of(lst, x, ctx) < 0


@method(LIST, "indexOf")
def list_index_of(ctx: Context, lst: DelugeList, x: Any) -> int:
    return index_of(lst, x, ctx)


@method(LIST, "lastIndexOf")
def list_last_index_of(ctx: Context, lst: DelugeList, x: Any) -> int:
    return last_index_of(lst, x, ctx)


# ---------------------------------------------------------------------------------------------
# New lists


@method(LIST, "distinct")
def list_distinct(ctx: Context, lst: DelugeList) -> DelugeList:
    seen = MatchSet(ctx=ctx)
    out = DelugeList(elem_type=lst.elem_type)
    for n, e in enumerate(lst):
        if n % CHECK_EVERY == CHECK_EVERY - 1:
            ctx.check_deadline()
        if e not in seen:
            seen.add(e)
            out.append(e)
    _charge_list(ctx, len(out))
    return out


@method(LIST, "intersect")
def list_intersect(ctx: Context, lst: DelugeList, other: Any) -> DelugeList:
    wanted = MatchSet(as_list(other, "intersect"), ctx)
    seen = MatchSet(ctx=ctx)
    out = DelugeList(elem_type=lst.elem_type)
    for n, e in enumerate(lst):
        if n % CHECK_EVERY == CHECK_EVERY - 1:
            ctx.check_deadline()
        if e in wanted and e not in seen:
            seen.add(e)
            out.append(e)
    _charge_list(ctx, len(out))
    return out


@method(LIST, "subList")
def list_sub_list(ctx: Context, lst: DelugeList, start: Any, end: Any = None) -> DelugeList:
    size = len(lst)
    s = to_index(start)
    e = size if end is None else to_index(end)
    if s < 0 or s > size:
        raise DelugeRuntimeError(f"Index {s} is out of range for a list of size {size}")
    if e > size or e < s:
        raise DelugeRuntimeError(f"Index {e} is out of range for a list of size {size}")
    _charge_list(ctx, e - s)
    return DelugeList(lst[s:e], elem_type=lst.elem_type)


@method(LIST, "toList", "toJSONList", "toJsonList")
def list_to_list(ctx: Context, lst: DelugeList) -> DelugeList:
    return lst


@method(LIST, "values")
def list_values(ctx: Context, lst: DelugeList) -> DelugeList:
    """COLLECTION ``values()`` on a collection that is a list: a new list of the elements."""
    _charge_list(ctx, len(lst))
    return DelugeList(lst)


# ---------------------------------------------------------------------------------------------
# Sorting (D-55)


def _sort_kind(v: Any) -> str | None:
    t = type(v)
    if t is int or t is float:
        return "number"
    if t is str:
        return "text"
    if t is DateTime:
        return "date"
    if t is bool:
        return "bool"
    return None


@method(LIST, "sort")
def list_sort(ctx: Context, lst: DelugeList, ascending: Any = True) -> DelugeList | None:
    """Sort the receiver in place and return it; null (receiver unchanged) for mixed types."""
    if type(ascending) is not bool:
        raise DelugeRuntimeError(f"'sort' expects a BOOLEAN but got {type_name(ascending)}")
    nulls = [e for e in lst if e is None]
    rest = [e for e in lst if e is not None]
    kinds = {_sort_kind(e) for e in rest}
    if None in kinds or len(kinds) > 1:
        return None
    ctx.check_deadline()
    if kinds == {"date"}:
        rest.sort(key=lambda d: d.dt, reverse=not ascending)
    else:
        # Python's sort is stable also with reverse=True (equal elements keep their order).
        rest.sort(reverse=not ascending)
    ctx.check_deadline()
    lst[:] = nulls + rest
    return lst


# ---------------------------------------------------------------------------------------------
# Statistics (numbers; TEXT elements holding numbers count)


def _numbers(lst: DelugeList, fn: str, ctx: Context) -> list[int | float]:
    out: list[int | float] = []
    for n, e in enumerate(lst):
        if n % CHECK_EVERY == CHECK_EVERY - 1:
            ctx.check_deadline()
        t = type(e)
        if t is int or t is float:
            out.append(e)
        elif t is str:
            v = parse_number_text(e)
            if v is None:
                raise DelugeRuntimeError(f"Cannot convert '{e}' to NUMBER")
            out.append(v)
        else:
            raise DelugeRuntimeError(f"'{fn}' needs numbers but the list holds {type_name(e)}")
    return out


@method(LIST, "largest")
def list_largest(ctx: Context, lst: DelugeList) -> int | float | None:
    nums = _numbers(lst, "largest", ctx)
    return max(nums) if nums else None


@method(LIST, "smallest")
def list_smallest(ctx: Context, lst: DelugeList) -> int | float | None:
    nums = _numbers(lst, "smallest", ctx)
    return min(nums) if nums else None


def _nth(ctx: Context, lst: DelugeList, n: Any, fn: str, descending: bool) -> int | float:
    nums = _numbers(lst, fn, ctx)
    k = to_index(n)
    if k < 1 or k > len(nums):
        raise DelugeRuntimeError(
            f"'{fn}' position {k} is out of range for a list of size {len(nums)}"
        )
    nums.sort(reverse=descending)
    return nums[k - 1]


@method(LIST, "nthLargest")
def list_nth_largest(ctx: Context, lst: DelugeList, n: Any) -> int | float:
    return _nth(ctx, lst, n, "nthLargest", True)


@method(LIST, "nthSmallest")
def list_nth_smallest(ctx: Context, lst: DelugeList, n: Any) -> int | float:
    return _nth(ctx, lst, n, "nthSmallest", False)


def _mean(nums: list[int | float]) -> float:
    if all(type(v) is int for v in nums):
        # Exact integer sum, one correctly rounded division.
        return sum(nums) / len(nums)
    return math.fsum(nums) / len(nums)


@method(LIST, "average")
def list_average(ctx: Context, lst: DelugeList) -> float | None:
    nums = _numbers(lst, "average", ctx)
    if not nums:
        return None
    return _finite(_mean(nums))


@method(LIST, "median")
def list_median(ctx: Context, lst: DelugeList) -> float | None:
    nums = _numbers(lst, "median", ctx)
    if not nums:
        return None
    nums.sort()
    mid = len(nums) // 2
    if len(nums) % 2:
        return float(nums[mid])
    return _finite(_mean([nums[mid - 1], nums[mid]]))


def _finite(x: float) -> float:
    return check_decimal(x)


__all__ = [
    "as_list",
    "check_list_size",
    "coerce_element",
    "make_typed_list",
    "to_index",
]
