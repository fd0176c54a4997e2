"""The host protocol: the engine's only door to the world outside pure computation.

Everything a script can do beyond computing values (CRM tasks, HTTP, mail, calls to other
functions, the clock, who is running) goes through one object implementing ``Host``. The
standalone host (``floodway.functions.standalone_host``) serves ``floodway run``; the functions
platform provides the live one. Hosts receive and return Deluge values only (values.py).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .values import File

if TYPE_CHECKING:
    from .program import Program


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    email: str


@dataclass(slots=True)
class HttpRequest:
    """An outbound request as a script described it (``invokeurl``, ``getUrl``, ``postUrl``)."""

    url: str
    method: str = "GET"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    content_type: str | None = None
    files: list[File] = field(default_factory=list)
    form: list[tuple[str, str]] = field(default_factory=list)  # extra multipart text parts
    connection: str | None = None
    timeout_s: float = 40.0
    max_bytes: int = 5 * 1024 * 1024


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    url: str = ""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None


@dataclass(slots=True)
class Mail:
    sender: str
    to: list[str]
    subject: str
    message: str = ""
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    content_type: str = "text/html"
    attachments: list[File] = field(default_factory=list)


@dataclass(slots=True)
class ClientAction:
    """``openUrl`` recorded for the caller (the web UI performs the last one after a button)."""

    url: str
    target: str


class Host(Protocol):
    """Services the engine calls; every method may raise ``DelugeRuntimeError``."""

    def now(self) -> _dt.datetime:
        """Current time as an aware datetime (any zone)."""

    def login_user(self) -> User:
        """The run-as user (deluge-language.md §13.5)."""

    def admin_user(self) -> User:
        """The org's primary admin."""

    def is_sender_allowed(self, address: str) -> bool:
        """Whether ``sendmail`` may use this ``from`` address (an active user's e-mail)."""

    def crm_task(self, task: str, args: list[Any]) -> Any:
        """Run ``zoho.crm.<task>`` (``task`` lower-case, aliases resolved) and return its value."""

    def http(self, request: HttpRequest) -> HttpResponse:
        """Send an outbound request under the address policy and caps (security.md NET)."""

    def send_mail(self, mail: Mail) -> None:
        """Queue a message (kept in the outbox until the execution ends)."""

    def resolve_function(self, api_name: str) -> Program | None:
        """The standalone function ``api_name`` (case-insensitive), or None."""

    def open_url(self, action: ClientAction) -> None:
        """Record an ``openUrl`` client action."""
