"""The Deluge language: lexer, parser, compiler, runtime and built-ins.

Public surface::

    program = compile_program(source, name="rollup")     # DelugeSyntaxError on bad source
    result = run(program, {"accountId": 1}, host, limits) # never raises for script behaviour

The package depends on nothing else in floodway; the world outside pure computation is reached
only through the ``Host`` protocol (host.py).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from threading import Lock
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

_CACHE_SIZE = 512
_cache: OrderedDict[tuple[str, str], Program] = OrderedDict()  # in memory only (SB-6)
_cache_lock = Lock()


def compile_program(source: str, name: str = "main") -> Program:
    """Compile a function file; compiled programs are cached by source hash and name."""
    from .compiler import COMPILER_VERSION, compile_source

    key = (
        hashlib.sha256((COMPILER_VERSION + source).encode("utf-8", "surrogatepass")).hexdigest(),
        name,
    )
    with _cache_lock:
        prog = _cache.get(key)
        if prog is not None:
            _cache.move_to_end(key)
            return prog
    prog = compile_source(source, name)
    with _cache_lock:
        _cache[key] = prog
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return prog


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
