"""Fixtures for testing built-ins directly, without compiling Deluge source."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from floodway.deluge import builtins as _builtins  # noqa: F401  (registers built-ins)
from floodway.deluge.errors import DelugeRuntimeError
from floodway.deluge.limits import Limits
from floodway.deluge.registry import functions, methods_of
from floodway.deluge.values import COLLECTION, Collection, type_name

FIXED_NOW = dt.datetime(2026, 2, 5, 14, 3, 9, tzinfo=dt.UTC)


class FakeContext:
    """Just enough of an execution for built-ins: UTC org, fixed clock, generous limits."""

    def __init__(
        self, tz: str = "UTC", month_first: bool = True, limits: Limits | None = None
    ) -> None:
        self.host: Any = None
        self.limits = limits or Limits()
        self.tz = ZoneInfo(tz)
        self.month_first = month_first
        self.charged = 0

    def now(self) -> dt.datetime:
        return FIXED_NOW.astimezone(self.tz)

    def check_deadline(self) -> None:
        pass

    def charge(self, nbytes: int) -> None:
        self.charged += nbytes

    def regex_timeout(self) -> float:
        return self.limits.regex_timeout_s


@pytest.fixture
def ctx() -> FakeContext:
    return FakeContext()


def call_method(ctx: Any, receiver: Any, name: str, *args: Any) -> Any:
    """Call a built-in method as the runtime does: by type tag and lower-case name."""
    tag = type_name(receiver)
    if type(receiver) is Collection and receiver.value is not None:
        receiver = receiver.value
    elif type(receiver) is Collection:
        tag = COLLECTION
    b = methods_of(tag).get(name.lower())
    if b is None:
        raise DelugeRuntimeError(f"'{name}' is not a function of {tag}")
    if len(args) < b.min_args or (b.max_args is not None and len(args) > b.max_args):
        raise DelugeRuntimeError(b.arity_error(len(args)))
    return b.fn(ctx, receiver, *args)


def call_function(ctx: Any, name: str, *args: Any) -> Any:
    """Call a global function; falls back to the method of the first argument (global form)."""
    b = functions().get(name.lower())
    if b is not None:
        return b.fn(ctx, *args)
    if not args:
        raise DelugeRuntimeError(f"Function '{name}' does not exist")
    return call_method(ctx, args[0], name, *args[1:])


@pytest.fixture
def call(ctx: FakeContext) -> Any:
    return lambda receiver, name, *args: call_method(ctx, receiver, name, *args)


@pytest.fixture
def callf(ctx: FakeContext) -> Any:
    return lambda name, *args: call_function(ctx, name, *args)
