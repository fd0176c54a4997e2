"""A tripwire, not the boundary (security.md SB-10): while generated Deluge code runs on a
thread, audit events for processes, sockets, native libraries and dynamic code abort the run.

Host calls (CRM, HTTP, mail, clock, function lookup) switch the wire off for their duration:
they legitimately open sockets and files. ``open`` and ``import`` are not watched because
built-ins load data lazily (time zone files, codecs), which would trip a wire on innocent scripts.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Callable
from typing import Any, Final, TypeVar

ARMED: Final[contextvars.ContextVar[bool]] = contextvars.ContextVar(
    "floodway_tripwire", default=False
)
WATCHED_PREFIXES: Final = (
    "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.kill",
    "socket.", "ctypes.", "exec", "compile", "sys.setrecursionlimit",
)  # fmt: skip
log = logging.getLogger("floodway.security")
_T = TypeVar("_T")


class TripwireError(BaseException):
    """An audited operation happened while Deluge code was running.

    A BaseException so that no ``except Exception`` in a built-in can swallow it; the runtime
    turns it into an internal error of the execution.
    """


def _importing() -> bool:
    """Whether the import system is on the stack: modules loaded lazily by built-ins (time zone
    data, codecs) execute and compile their code, which is not a script escaping."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if ARMED.get() and event.startswith(WATCHED_PREFIXES):
        if event in ("exec", "compile") and _importing():
            return
        ARMED.set(False)  # the log call below must not trip the wire again
        log.error("security tripwire: audit event %s while Deluge code was running", event)
        raise TripwireError(f"audit event {event}")


_installed = False


def install() -> None:
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


class DisarmingHost:
    """Wraps a host so that every call into it runs with the wire off."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def now(self) -> Any:
        return disarmed(self._inner.now)

    def login_user(self) -> Any:
        return disarmed(self._inner.login_user)

    def admin_user(self) -> Any:
        return disarmed(self._inner.admin_user)

    def is_sender_allowed(self, address: str) -> bool:
        return bool(disarmed(self._inner.is_sender_allowed, address))

    def crm_task(self, task: str, args: list[Any]) -> Any:
        return disarmed(self._inner.crm_task, task, args)

    def http(self, request: Any) -> Any:
        return disarmed(self._inner.http, request)

    def send_mail(self, mail: Any) -> None:
        disarmed(self._inner.send_mail, mail)

    def resolve_function(self, api_name: str) -> Any:
        return disarmed(self._inner.resolve_function, api_name)

    def open_url(self, action: Any) -> None:
        disarmed(self._inner.open_url, action)

    @property
    def crm_api(self) -> Callable[..., Any] | None:
        inner = getattr(self._inner, "crm_api", None)  # optional capability, constant name
        if inner is None:
            return None
        return lambda *args: disarmed(inner, *args)


def disarmed(fn: Callable[..., _T], *args: Any) -> _T:
    """Call host code with the wire off, re-arming afterwards."""
    token = ARMED.set(False)
    try:
        return fn(*args)
    finally:
        ARMED.reset(token)
