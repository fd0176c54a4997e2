"""The host of the live system: the Deluge ``Host`` protocol on the org's real data and services.

One ``LiveHost`` serves one execution (and the ``standalone.*`` calls inside it):

- ``zoho.crm.*`` go to ``crm_tasks.StoreTasks`` as the run-as user (channel ``function``);
  every record-change event the run causes is collected for the execution record through a
  context variable that the event subscriber of ``Functions`` reads.
- ``invokeurl`` goes through the process's one ``OutboundClient`` (NET-1); ``connection:``
  names a stored connection whose ``ConnectionAuthorizer`` adds the credentials after the checks
  (NET-7); the daily quota is counted in the database first (DOS-1). Requests to the Zoho CRM
  API hosts (and floodway's own base URL) with a ``/crm/`` path are served in-process by the
  hook the API layer installs (deluge-language.md §12.8, NET-10) and do not count.
- ``sendmail`` is checked (NET-11), counted, and kept until the execution row is written: the
  outbox rows go into the same transaction (functions-platform.md §8.5).
- ``standalone.x`` resolves to the live version of the org's standalone function ``x``.

Every outbound call is summarised for the record with its URL redacted (SEC-6).
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from floodway.deluge import (
    ClientAction,
    DelugeRuntimeError,
    HttpRequest,
    HttpResponse,
    Mail,
    Program,
    User,
)
from floodway.deluge.context import CURRENT
from floodway.deluge.values import DelugeMap

from .address_policy import OutboundError
from .crm_bridge import (
    LEAD_TO_ACCOUNT,
    LEAD_TO_CONTACT,
    TaskFail,
    error_map,
    from_plain,
    id_of,
    invalid_id_map,
    query_get,
    record_input,
    unwrap,
)
from .crm_tasks import StoreTasks
from .executions import QuotaExceeded
from .outbound import MultipartFile
from .redact import redact_url

if TYPE_CHECKING:
    from floodway.crm.events import RecordChange

    from .service import Functions

ZOHO_API_HOSTS: Final = frozenset(
    {
        "www.zohoapis.com",
        "zohoapis.com",
        "www.zohoapis.eu",
        "www.zohoapis.in",
        "www.zohoapis.com.au",
        "www.zohoapis.com.cn",
        "www.zohoapis.jp",
        "www.zohoapis.ca",
        "www.zohoapis.sa",
    }
)
MAX_SUMMARIES: Final = 1000

# The record changes of the execution running on this thread (event id -> summary).
COLLECTOR: contextvars.ContextVar[dict[str, dict[str, Any]] | None] = contextvars.ContextVar(
    "floodway_function_changes", default=None
)


def collect_change(event: RecordChange, _conn: Any) -> None:
    """Record-change subscriber: note the change in the running execution, if any."""
    changes = COLLECTOR.get()
    if changes is None or len(changes) >= MAX_SUMMARIES:
        return
    action = {"create": "created", "update": "updated", "delete": "deleted"}[event.action]
    if event.action == "update" and event.changed == ("$converted",):
        action = "converted"
    changes[event.id] = {
        "action": action,
        "module": event.module,
        "id": event.record_id,
        "workflow": event.workflow,
    }


@dataclass(frozen=True, slots=True)
class InProcessRequest:
    """An ``invokeurl`` to the CRM API, for the API layer's in-process handler (NET-10)."""

    request: HttpRequest
    user_id: str
    chain: tuple[str, int] | None


class LiveHost:
    """``deluge.Host`` for one execution on the live system."""

    def __init__(
        self,
        fx: Functions,
        run_as: User,
        admin: User,
        *,
        chain: tuple[str, int] | None = None,
    ) -> None:
        self.fx = fx
        self.crm = fx.crm
        self.user = run_as
        self.admin = admin
        self.chain = chain
        self.http_calls: list[dict[str, Any]] = []
        self.mails: list[Mail] = []
        self.actions: list[ClientAction] = []
        self.changes: dict[str, dict[str, Any]] = {}
        self.secrets: list[str] = []
        self.programs: dict[str, tuple[str, int]] = {}  # standalone calls: name -> (name, version)
        self._tasks: StoreTasks | None = None
        self._senders: dict[str, bool] = {}

    # ------------------------------------------------------------------ identity and clock

    def now(self) -> _dt.datetime:
        return self.crm.clock()

    def login_user(self) -> User:
        return self.user

    def admin_user(self) -> User:
        return self.admin

    def is_sender_allowed(self, address: str) -> bool:
        key = address.strip().lower()
        hit = self._senders.get(key)
        if hit is None:
            user = self.crm.users.by_email(key)
            hit = self._senders[key] = bool(user is not None and user.active)
        return hit

    # ------------------------------------------------------------------ CRM tasks

    @property
    def tasks(self) -> StoreTasks:
        if self._tasks is None:
            fx = self.fx
            self._tasks = StoreTasks(
                self.crm,
                self.user.id,
                month_first=fx.month_first,
                variables=fx.variables,
                attachments=fx.attachments,
                zapikey=fx.zapikey,
                convert_lead=convert_lead,
                chain=self.chain,
            )
        return self._tasks

    def crm_task(self, task: str, args: list[Any]) -> Any:
        return self.tasks.crm_task(task, args)

    @property
    def notes(self) -> list[str]:
        return self._tasks.notes if self._tasks is not None else []

    # ------------------------------------------------------------------ outbound HTTP

    def _time_left(self, wanted: float) -> float:
        ctx = CURRENT.get()
        deadline = getattr(ctx, "deadline", None)
        if deadline is None:
            return wanted
        left = float(deadline) - time.monotonic()
        if left <= 0:
            raise DelugeRuntimeError("socket timeout error")
        return min(wanted, left)

    def _summary(self, request: HttpRequest, status: int | None, started: float, **kw: Any) -> None:
        if len(self.http_calls) >= MAX_SUMMARIES:
            return
        entry = {
            "method": request.method,
            "url": redact_url(request.url, self.secrets),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        entry.update(kw)
        self.http_calls.append(entry)

    def _in_process_target(self, url: str) -> bool:
        from .address_policy import parse_url, url_host, url_port

        try:
            parsed = parse_url(url)
        except OutboundError:
            return False
        if not parsed.path.startswith("/crm/"):
            return False
        host = url_host(parsed)
        if host in ZOHO_API_HOSTS and parsed.scheme == "https":
            return True
        own = self.fx.public_origin
        return own is not None and (parsed.scheme, host, url_port(parsed)) == own

    def http(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        if self._in_process_target(request.url):
            handler = self.fx.in_process_api
            if handler is None:
                self._summary(request, None, started, error="not available", in_process=True)
                raise DelugeRuntimeError("invokeurl to the CRM API is not available here")
            resp = handler(InProcessRequest(request, self.user.id, self.chain))
            self._summary(request, resp.status, started, in_process=True)
            return resp
        authorizer = None
        if request.connection is not None:
            try:
                authorizer = self.fx.connections.authorizer_or_none(request.connection)
            except OutboundError as exc:
                raise DelugeRuntimeError(exc.message) from None
            if authorizer is None:
                raise DelugeRuntimeError(f"Connection '{request.connection[:100]}' does not exist")
            self.secrets.extend(v for v in authorizer.secret_values() if v not in self.secrets)
        try:
            self.fx.quotas.take("invokeurl", self.fx.invokeurl_daily)
        except QuotaExceeded as exc:
            raise DelugeRuntimeError(str(exc)) from None
        headers = list(request.headers)
        if request.content_type:
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
            if not request.files:
                headers.append(("Content-Type", request.content_type))
        files = [
            MultipartFile(f.param_name, f.name, f.content, f.content_type) for f in request.files
        ]
        timeout = self._time_left(request.timeout_s)
        try:
            if authorizer is not None:
                sent = authorizer.send(
                    request.method,
                    request.url,
                    headers,
                    request.body,
                    files=files,
                    form=request.form,
                    timeout_s=timeout,
                    max_bytes=request.max_bytes,
                )
                self.secrets.extend(v for v in authorizer.secret_values() if v not in self.secrets)
            else:
                sent = self.fx.outbound.send(
                    request.method,
                    request.url,
                    headers,
                    request.body,
                    files=files,
                    form=request.form,
                    timeout_s=timeout,
                    max_bytes=request.max_bytes,
                )
        except OutboundError as exc:
            self._summary(request, None, started, error=exc.message)
            raise DelugeRuntimeError(exc.message) from None
        self._summary(request, sent.status, started)
        return HttpResponse(sent.status, sent.headers, sent.body, sent.url)

    # ------------------------------------------------------------------ mail, calls, openUrl

    def send_mail(self, mail: Mail) -> None:
        from .mailer import InvalidMail, validate_mail

        try:
            validate_mail(mail)
        except InvalidMail as exc:
            raise DelugeRuntimeError(str(exc)) from None
        try:
            self.fx.quotas.take("sendmail", self.fx.sendmail_daily)
        except QuotaExceeded as exc:
            raise DelugeRuntimeError(str(exc)) from None
        self.mails.append(mail)

    def resolve_function(self, api_name: str) -> Program | None:
        live = self.fx.registry.live(api_name)
        if live is None or live.function.category != "standalone":
            return None
        self.programs[live.function.api_name.lower()] = (
            live.function.api_name,
            live.version.number,
        )
        return live.program

    def open_url(self, action: ClientAction) -> None:
        self.actions.append(action)

    # ------------------------------------------------------------------ invokeapi

    def crm_api(self, method: str, path: str, data: Any, headers: Any) -> HttpResponse:
        """``invokeapi`` (service zohocrm): the same in-process route as ``invokeurl``."""
        handler = self.fx.in_process_api
        if handler is None:
            raise DelugeRuntimeError("invokeapi is not available in this environment")
        from floodway.deluge.values import to_json_text

        body = None if data is None else to_json_text(data).encode()
        url = "https://www.zohoapis.com" + (path if path.startswith("/") else "/" + path)
        req = HttpRequest(
            url=url,
            method=method,
            headers=[(str(k), str(v)) for k, v in (headers or {}).items()]
            if isinstance(headers, dict)
            else [],
            body=body,
            content_type="application/json" if body is not None else None,
        )
        started = time.perf_counter()
        resp = handler(InProcessRequest(req, self.user.id, self.chain))
        self._summary(req, resp.status, started, in_process=True)
        return resp


# --------------------------------------------------------------------------------------------
# convertLead on the real store: one transaction, all or nothing.


def _already_converted(rid: str) -> DelugeMap:
    return error_map(
        "INVALID_DATA", {"api_name": "id", "id": rid}, "the lead has already been converted"
    )


class _Rollback(Exception):
    def __init__(self, error: DelugeMap) -> None:
        super().__init__("rollback")
        self.error = error


def _existing(tasks: StoreTasks, opts: DelugeMap, module: str) -> str | None:
    raw = query_get(opts, module)
    if raw is None or raw == "":
        return None
    rid = id_of(raw)
    if rid is None or tasks.crm.records.get(module, rid, fields=["id"]) is None:
        shown = raw if type(raw) is str else str(from_plain(raw))
        raise TaskFail(
            error_map(
                "INVALID_DATA",
                {"api_name": module, "id": shown},
                "the id given seems to be invalid",
            )
        )
    return rid


def convert_lead(tasks: StoreTasks, rid: str, opts: DelugeMap) -> DelugeMap:
    """``zoho.crm.convertLead``: Contact (and Account, Deal) from the lead, lead marked
    converted, all in one transaction (deluge-language.md §12.4)."""
    import sqlalchemy as sa

    from floodway.crm import schema as ct
    from floodway.crm.events import RecordChange
    from floodway.crm.writing import WriteCall, locked
    from floodway.db import write_transaction

    crm = tasks.crm
    lead = crm.records.get("Leads", rid)
    if lead is None:
        return invalid_id_map(rid)
    if lead.get("$converted"):
        return _already_converted(rid)
    owner = (lead.get("Owner") or {}).get("id") or tasks.user_id
    if query_get(opts, "assign_to") is not None:
        owner = id_of(query_get(opts, "assign_to")) or ""
        if not owner or crm.users.get(owner) is None:
            return error_map(
                "INVALID_DATA",
                {"api_name": "assign_to", "json_path": "$.data[0].assign_to"},
                "invalid data",
            )
    account_id = _existing(tasks, opts, "Accounts")
    contact_id = _existing(tasks, opts, "Contacts")
    deal_values = unwrap(query_get(opts, "Deals"))
    actor = tasks._actor(False)

    def write(conn: Any, module: str, row: dict[str, Any], update: bool = False) -> str:
        mod = crm.metadata.module(module, conn)
        call = WriteCall(crm.records, conn, mod, actor)
        res = (call.update if update else call.create)([(0, row)])[0]
        if res.get("status") != "success":
            raise _Rollback(from_plain(res))
        return str(res["details"]["id"])

    try:
        with write_transaction(crm.engine) as conn:
            # The lead is locked first: a second conversion waits, then sees it converted.
            R = ct.records
            row = conn.execute(
                locked(
                    sa.select(
                        R.c.data,
                        R.c.owner_id,
                        R.c.created_time,
                        R.c.created_by,
                        R.c.modified_time,
                        R.c.modified_by,
                    ).where(R.c.id == int(rid))
                )
            ).one_or_none()
            if row is None:
                raise _Rollback(invalid_id_map(rid))
            if row.data.get("$converted"):
                raise _Rollback(_already_converted(rid))
            if account_id is None and lead.get("Company"):
                acc = {d: lead[s] for s, d in LEAD_TO_ACCOUNT.items() if lead.get(s) is not None}
                acc["Owner"] = owner
                account_id = write(conn, "Accounts", acc)
            person = {d: lead[s] for s, d in LEAD_TO_CONTACT.items() if lead.get(s) is not None}
            if account_id is not None:
                person["Account_Name"] = account_id
            if contact_id is None:
                person["Owner"] = owner
                contact_id = write(conn, "Contacts", person)
            elif query_get(opts, "overwrite") is True:
                write(conn, "Contacts", {**person, "id": contact_id}, update=True)
            deal_id = None
            if type(deal_values) is DelugeMap and deal_values:
                deals = crm.metadata.module("Deals", conn)
                deal = record_input(deals, deal_values, tasks.tz, tasks.month_first)
                deal.pop("id", None)
                deal.setdefault("Owner", owner)
                if account_id is not None:
                    deal["Account_Name"] = account_id
                deal["Contact_Name"] = contact_id
                deal_id = write(conn, "Deals", deal)
            now = crm.now_ms()
            uid = int(tasks.user_id)
            data = {**row.data, "$converted": True}
            conn.execute(
                R.update()
                .where(R.c.id == int(rid))
                .values(data=data, modified_time=now, modified_by=uid)
            )
            old = WriteCall._state(
                int(rid),
                row.data,
                row.owner_id,
                row.created_time,
                row.created_by,
                row.modified_time,
                row.modified_by,
            )
            new = WriteCall._state(
                int(rid), data, row.owner_id, row.created_time, row.created_by, now, uid
            )
            crm.events.emit(
                conn,
                [
                    RecordChange(
                        id=str(crm.ids.next_id()),
                        action="update",
                        module="Leads",
                        record_id=rid,
                        old=old,
                        new=new,
                        changed=("$converted",),
                        user_id=str(uid),
                        channel="function",
                        workflow=False,
                        time=_dt.datetime.fromtimestamp(now / 1000, _dt.UTC),
                        chain_id=actor.chain[0] if actor.chain is not None else "",
                        chain_depth=actor.chain[1] if actor.chain is not None else 0,
                    )
                ],
            )
    except _Rollback as rb:
        return rb.error
    return DelugeMap(Contacts=contact_id, Accounts=account_id, Deals=deal_id)
