"""The tables of built-in methods and global functions, keyed by Deluge type and lower-case name.

Built-in modules register functions with ``@method(...)`` and ``@function(...)``. The tables are
frozen when ``freeze()`` runs at import of ``runtime`` (security.md SB-3): dispatch is a lookup of
``(type tag, lower-case name)``, never ``getattr``.

A method implementation has the signature ``fn(ctx, receiver, *args)``; a global function
``fn(ctx, *args)``. Argument counts are read from the Python signature once, at registration.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .values import (
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
)

ALL_TYPES = (TEXT, NUMBER, DECIMAL, BOOLEAN, NULL, LIST, MAP, COLLECTION, DATETIME, FILE)


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str  # canonical spelling, for messages
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number

    def arity_error(self, got: int) -> str:
        lo, hi = self.min_args, self.max_args
        if hi is None:
            want = f"at least {lo}"
        elif lo == hi:
            want = str(lo)
        elif hi == lo + 1:
            want = f"{lo} or {hi}"
        else:
            want = f"{lo} to {hi}"
        noun = "argument" if want == "1" else "arguments"
        return f"'{self.name}' takes {want} {noun} but got {got}"


_methods: dict[str, dict[str, Builtin]] = {t: {} for t in ALL_TYPES}
_functions: dict[str, Builtin] = {}
_frozen = False


def _arity(fn: Callable[..., Any], skip: int) -> tuple[int, int | None]:
    params = list(inspect.signature(fn).parameters.values())[skip:]
    lo = 0
    hi: int | None = 0
    for p in params:
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            hi = None
        elif p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            if p.default is inspect.Parameter.empty:
                lo += 1
            if hi is not None:
                hi += 1
    return lo, hi


def method(
    types: str | tuple[str, ...], *names: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(ctx, receiver, *args)`` as method ``names`` of the given Deluge types.

    The first name is the canonical spelling; all names are matched case-insensitively.
    """
    if isinstance(types, str):
        types = (types,)

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if _frozen:
            raise RuntimeError("built-in tables are frozen")
        lo, hi = _arity(fn, 2)
        for t in types:
            for n in names:
                _methods[t][n.lower()] = Builtin(names[0], fn, lo, hi)
        return fn

    return register


def function(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(ctx, *args)`` as a global function (``randomNumber(1, 3)``)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if _frozen:
            raise RuntimeError("built-in tables are frozen")
        lo, hi = _arity(fn, 1)
        for n in names:
            _functions[n.lower()] = Builtin(names[0], fn, lo, hi)
        return fn

    return register


METHODS: Mapping[str, Mapping[str, Builtin]] = MappingProxyType({})
FUNCTIONS: Mapping[str, Builtin] = MappingProxyType({})
# BY_ARITY[n][name][python type] -> fn: the fast path of method calls with n arguments. Only
# built-ins that accept n arguments appear, so a hit needs no arity check. COLLECTION receivers
# are left out on purpose: they take the slow path, which unwraps them.
MAX_FAST_ARITY = 3
BY_ARITY: Mapping[int, Mapping[str, Mapping[type, Callable[..., Any]]]] = MappingProxyType({})


def freeze() -> None:
    """Make the tables immutable; later registrations fail."""
    global _frozen, METHODS, FUNCTIONS, BY_ARITY
    if _frozen:
        return
    from .values import TYPE_NAMES

    _frozen = True
    METHODS = MappingProxyType({t: MappingProxyType(dict(m)) for t, m in _methods.items()})
    FUNCTIONS = MappingProxyType(dict(_functions))
    by_arity: dict[int, dict[str, dict[type, Callable[..., Any]]]] = {
        n: {} for n in range(MAX_FAST_ARITY + 1)
    }
    for py_type, tag in TYPE_NAMES.items():
        if tag == COLLECTION:
            continue
        for name, b in _methods[tag].items():
            for n in range(MAX_FAST_ARITY + 1):
                if b.min_args <= n and (b.max_args is None or n <= b.max_args):
                    by_arity[n].setdefault(name, {})[py_type] = b.fn
    BY_ARITY = MappingProxyType(
        {
            n: MappingProxyType({k: MappingProxyType(v) for k, v in t.items()})
            for n, t in by_arity.items()
        }
    )


def methods_of(type_tag: str) -> Mapping[str, Builtin]:
    return METHODS[type_tag] if _frozen else _methods[type_tag]


def functions() -> Mapping[str, Builtin]:
    return FUNCTIONS if _frozen else _functions
