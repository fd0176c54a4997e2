"""The Deluge language: lexer, parser, compiler, runtime and built-ins.

Public surface::

    program = compile_program(source, name="rollup")     # DelugeSyntaxError on bad source
    result = run(program, {"accountId": 1}, host, limits) # never raises for script behaviour

The package depends on nothing else in floodway; the world outside pure computation is reached
only through the ``Host`` protocol (host.py).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from .errors import (
    DelugeError,
    DelugeInternalError,
    DelugeLimitError,
    DelugeRuntimeError,
    DelugeSyntaxError,
)
from .host import ClientAction, Host, HttpRequest, HttpResponse, Mail, User
from .limits import Limits
from .program import Program

__all__ = [
    "ClientAction",
    "DelugeError",
    "DelugeInternalError",
    "DelugeLimitError",
    "DelugeRuntimeError",
    "DelugeSyntaxError",
    "Host",
    "HttpRequest",
    "HttpResponse",
    "Limits",
    "Mail",
    "Program",
    "User",
    "compile_program",
    "run",
]


@lru_cache(maxsize=512)  # compiled code stays in memory only (security.md SB-6)
def _compile_cached(source: str, name: str) -> Program:
    from .compiler import compile_source

    return compile_source(source, name)


def compile_program(source: str, name: str = "main") -> Program:
    """Compile a function file; compiled programs are cached by source and name."""
    return _compile_cached(source, name)


def run(
    program: Program,
    args: dict[str, Any] | None,
    host: Host,
    limits: Limits | None = None,
    tz: str | _dt.tzinfo = "UTC",
    month_first: bool = True,
    on_info: Callable[[str], None] | None = None,
) -> Any:
    """Run a compiled program; returns a ``runtime.Result``."""
    from .runtime import Execution

    return Execution(host, limits, tz, month_first, on_info).run(program, args)
