"""What built-in functions may ask of the running execution.

Built-ins receive the execution context as their first argument. They never see the host
directly: everything outside pure computation goes through ``ctx.host`` (``host.py``).
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .host import Host
    from .limits import Limits


class Context(Protocol):
    """The slice of an execution that built-ins use."""

    host: Host
    limits: Limits
    tz: _dt.tzinfo
    month_first: bool  # org input date order for ambiguous numeric dates (D-12)

    def now(self) -> _dt.datetime:
        """Current time, aware, in the org time zone (host clock)."""

    def check_deadline(self) -> None:
        """Raise the time limit error when the execution is past its deadline (LM-2)."""

    def charge(self, nbytes: int) -> None:
        """Account newly built values against the memory budget (LM-3)."""

    def regex_timeout(self) -> float:
        """Seconds a single regular-expression call may run (LM-6)."""


# The execution running on this thread (set by runtime.Execution while it runs), for the few
# value rules that depend on the org's settings without a context argument: comparing a
# DATE-TIME with date text reads the text in the org time zone.
import contextvars as _contextvars  # noqa: E402

CURRENT: _contextvars.ContextVar[Context | None] = _contextvars.ContextVar(
    "floodway_deluge_ctx", default=None
)
