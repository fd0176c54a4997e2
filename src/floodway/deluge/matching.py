"""Element matching of list searches and map values (deluge-language.md §8.2, D-72).

``contains``, ``indexOf``, ``distinct``, ``intersect``, ``removeElement``, ``removeAll`` and
``containValue`` do not use the ``==`` of §5.3: they match by type and value. TEXT matches only
TEXT (case-sensitively), NUMBER and DECIMAL match when numerically equal, BOOLEAN / DATE-TIME /
null match only their own kind, and LIST / MAP match structurally.

Structural matching is iterative with an explicit depth count so that a deeply nested or
self-containing value gives the runtime error "Value is nested too deeply" instead of a
Python recursion error.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from .errors import DelugeRuntimeError
from .values import MAX_VALUE_DEPTH, Collection, DateTime, DelugeList, DelugeMap, File

if TYPE_CHECKING:
    from .context import Context

# How many elements a search may visit between two deadline checks (security.md LM-2).
CHECK_EVERY: Final = 10_000

_CONTAINERS: Final = (DelugeList, DelugeMap, Collection)


def _unwrap(v: Any) -> Any:
    """A decided COLLECTION matches as its LIST or MAP; an undecided one as an empty MAP."""
    if type(v) is Collection:
        return v.value if v.value is not None else DelugeMap()
    return v


def _scalar_match(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ta is str:
        return tb is str and a == b
    if ta is int or ta is float:
        return (tb is int or tb is float) and a == b
    if ta is bool:
        return tb is bool and a is b
    if a is None:
        return b is None
    if ta is DateTime:
        return tb is DateTime and a == b
    if ta is File:
        return a is b
    return False


def matches(a: Any, b: Any, ctx: Context | None = None) -> bool:
    """True when ``a`` and ``b`` match as list elements (§8.2).

    With ``ctx`` the deadline is checked every ``CHECK_EVERY`` compared pairs (LM-2).
    """
    a, b = _unwrap(a), _unwrap(b)
    if type(a) not in _CONTAINERS and type(b) not in _CONTAINERS:
        return _scalar_match(a, b)
    stack: list[tuple[Any, Any, int]] = [(a, b, 0)]
    work = 0
    while stack:
        work += 1
        if ctx is not None and work % CHECK_EVERY == 0:
            ctx.check_deadline()
        x, y, depth = stack.pop()
        x, y = _unwrap(x), _unwrap(y)
        tx = type(x)
        if tx is DelugeList:
            if type(y) is not DelugeList or len(x) != len(y):
                return False
            if x is y:
                continue
            if depth >= MAX_VALUE_DEPTH:
                raise DelugeRuntimeError("Value is nested too deeply")
            stack.extend((p, q, depth + 1) for p, q in zip(x, y))
        elif tx is DelugeMap:
            if type(y) is not DelugeMap or len(x) != len(y):
                return False
            if x is y:
                continue
            if depth >= MAX_VALUE_DEPTH:
                raise DelugeRuntimeError("Value is nested too deeply")
            for k, v in x.items():
                if k not in y or not _same_key(k, y):
                    return False
                stack.append((v, y[k], depth + 1))
        elif not _scalar_match(x, y):
            return False
    return True


def _same_key(k: Any, m: DelugeMap) -> bool:
    """Python dicts treat ``1``, ``1.0`` and ``True`` as one key; Deluge keys also need the type."""
    if type(k) is str:
        return True
    for other in m:
        if other == k:
            return type(other) is type(k)
    return False


def match_key(v: Any) -> Hashable | None:
    """A hashable key with ``match_key(a) == match_key(b)`` iff ``matches(a, b)``, for scalars.

    Containers return None: they are compared with ``matches`` one by one. NUMBER and DECIMAL
    share a tag because Python's ``2 == 2.0`` and ``hash(2) == hash(2.0)`` already agree.
    """
    t = type(v)
    if t is str:
        return ("T", v)
    if t is int or t is float:
        return ("N", v)
    if t is bool:
        return ("B", v)
    if v is None:
        return ("0",)
    if t is DateTime:
        return ("D", v.dt)
    if t is File:
        return ("F", id(v))
    return None


def index_of(items: Sequence[Any], x: Any, ctx: Context | None = None) -> int:
    """Index of the first element of ``items`` that matches ``x``, or -1."""
    key = match_key(x)
    for i, e in enumerate(items):
        if ctx is not None and i % CHECK_EVERY == CHECK_EVERY - 1:
            ctx.check_deadline()
        if key is not None:
            if match_key(e) == key:
                return i
        elif matches(e, x, ctx):
            return i
    return -1


def last_index_of(items: Sequence[Any], x: Any, ctx: Context | None = None) -> int:
    """Index of the last element of ``items`` that matches ``x``, or -1."""
    key = match_key(x)
    for n, i in enumerate(range(len(items) - 1, -1, -1)):
        if ctx is not None and n % CHECK_EVERY == CHECK_EVERY - 1:
            ctx.check_deadline()
        e = items[i]
        if key is not None:
            if match_key(e) == key:
                return i
        elif matches(e, x, ctx):
            return i
    return -1


def contains(items: Sequence[Any], x: Any, ctx: Context | None = None) -> bool:
    return index_of(items, x, ctx) >= 0


class MatchSet:
    """A set of values under element matching: hashing for scalars, a scan for containers."""

    __slots__ = ("_containers", "_ctx", "_keys")

    def __init__(self, items: Iterable[Any] = (), ctx: Context | None = None) -> None:
        self._keys: set[Hashable] = set()
        self._containers: list[Any] = []
        self._ctx = ctx
        for i, v in enumerate(items):
            if ctx is not None and i % CHECK_EVERY == CHECK_EVERY - 1:
                ctx.check_deadline()
            self.add(v)

    def add(self, v: Any) -> None:
        key = match_key(v)
        if key is not None:
            self._keys.add(key)
        else:
            self._containers.append(v)

    def __contains__(self, v: Any) -> bool:
        key = match_key(v)
        if key is not None:
            return key in self._keys
        ctx = self._ctx
        for i, c in enumerate(self._containers):
            if ctx is not None and i % CHECK_EVERY == CHECK_EVERY - 1:
                ctx.check_deadline()
            if matches(c, v, ctx):
                return True
        return False
