"""The host behind ``floodway run``: ``zoho.crm.*`` on an ephemeral instance of the real store
(or a given store), real outbound HTTP under the address policy, recorded mail, and
``standalone.*`` calls resolved from sibling ``.dg`` files.

The CRM tasks are the live host's (``LiveHost`` / ``crm_tasks.StoreTasks``): one CRM
implementation, one set of shapes and validations. The ephemeral store is created on the first
``zoho.crm.*`` call, so scripts that never touch the CRM do not pay for it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..deluge import (
    ClientAction,
    DelugeRuntimeError,
    DelugeSyntaxError,
    HttpRequest,
    HttpResponse,
    Limits,
    Mail,
    Program,
    User,
    compile_program,
)
from ..settings import Settings
from .address_policy import AddressPolicy, OutboundError
from .outbound import MultipartFile, OutboundClient

if TYPE_CHECKING:
    from floodway.crm.service import Crm

    from .ephemeral import EphemeralStore
    from .live_host import LiveHost

ADMIN = User(id="1000000000000000001", name="Floodway Admin", email="admin@floodway.local")

_clients: dict[tuple[str, ...], OutboundClient] = {}


def outbound_client(allow: list[str]) -> OutboundClient:
    """One pooled client per allow-list (a cache, not state: clients are interchangeable)."""
    key = tuple(allow)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = OutboundClient(AddressPolicy(allow))
    return client


class DailyQuota:
    """A per-day counter (UTC days); the platform keeps these in the database per org."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit, self.what = limit, what
        self.day: dt.date | None = None
        self.used = 0

    def take(self, now: dt.datetime) -> None:
        today = now.astimezone(dt.UTC).date()
        if today != self.day:
            self.day, self.used = today, 0
        if self.used >= self.limit:
            raise DelugeRuntimeError(f"{self.what} limit of {self.limit} per day reached")
        self.used += 1


class StandaloneHost:
    def __init__(
        self,
        folder: Path,
        settings: Settings,
        crm: Crm | None = None,
        client: OutboundClient | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.folder = folder
        self.settings = settings
        self.user = ADMIN
        self._crm = crm
        self._store: EphemeralStore | None = None
        self._live: LiveHost | None = None
        self.client = client or outbound_client(list(settings.invokeurl_allow))
        self.outbox: list[Mail] = []
        self.actions: list[ClientAction] = []
        self.http_log: list[dict[str, Any]] = []
        limits = limits or Limits()
        self.outbound_quota = DailyQuota(limits.invokeurl_daily, "invokeurl")
        self.mail_quota = DailyQuota(limits.sendmail_daily, "sendmail")

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def login_user(self) -> User:
        return self.user

    def admin_user(self) -> User:
        return ADMIN

    def is_sender_allowed(self, address: str) -> bool:
        return address.lower() in (ADMIN.email, self.user.email)

    @property
    def crm(self) -> Crm:
        """The store behind ``zoho.crm.*``: the given one, else an ephemeral instance."""
        if self._crm is None:
            from .ephemeral import EphemeralStore

            self._store = EphemeralStore(self.settings.time_zone)
            self._crm = self._store.crm
        return self._crm

    @property
    def live(self) -> LiveHost:
        """The live host on ``crm`` whose CRM tasks this host runs, as the org's admin."""
        if self._live is None:
            from .live_host import LiveHost
            from .service import Functions

            fx = Functions(self.crm, self.settings, outbound=self.client)
            admin = fx.executor.user(None)
            self._live = LiveHost(fx, admin, admin)
        return self._live

    def crm_task(self, task: str, args: list[Any]) -> Any:
        return self.live.crm_task(task, args)

    def close(self) -> None:
        """Delete the ephemeral store, if one was made (a given store is left alone)."""
        if self._store is not None:
            self._store.close()
            self._store = self._crm = self._live = None

    def http(self, request: HttpRequest) -> HttpResponse:
        if request.connection is not None:
            raise DelugeRuntimeError(f"Connection '{request.connection}' does not exist")
        self.outbound_quota.take(self.now())
        headers = list(request.headers)
        if request.content_type:
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
            if not request.files:
                headers.append(("Content-Type", request.content_type))
        files = [
            MultipartFile(f.param_name, f.name, f.content, f.content_type) for f in request.files
        ]
        started = dt.datetime.now(dt.UTC)
        try:
            resp = self.client.send(
                request.method,
                request.url,
                headers,
                request.body,
                files=files,
                form=request.form,
                timeout_s=request.timeout_s,
                max_bytes=request.max_bytes,
            )
        except OutboundError as exc:
            self.http_log.append(
                {"method": request.method, "url": request.url, "status": None, "error": str(exc)}
            )
            raise DelugeRuntimeError(str(exc)) from None
        self.http_log.append(
            {
                "method": request.method,
                "url": request.url,
                "status": resp.status,
                "duration_ms": (dt.datetime.now(dt.UTC) - started).total_seconds() * 1000,
            }
        )
        return HttpResponse(resp.status, resp.headers, resp.body, resp.url)

    def send_mail(self, mail: Mail) -> None:
        self.mail_quota.take(self.now())
        self.outbox.append(mail)

    def resolve_function(self, api_name: str) -> Program | None:
        wanted = f"{api_name.lower()}.dg"
        for path in sorted(self.folder.glob("*.dg")):
            if path.name.lower() == wanted:
                try:
                    return compile_program(path.read_text("utf-8"), name=path.stem)
                except DelugeSyntaxError as exc:
                    raise DelugeRuntimeError(
                        f"Function 'standalone.{api_name}' has a syntax error at line {exc.line}: {exc.message}"
                    ) from None
        return None

    def open_url(self, action: ClientAction) -> None:
        self.actions.append(action)
