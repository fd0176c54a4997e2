"""What each kind of workflow action does (functions-platform.md §3, §4.5).

``ActionRunner`` turns one action of one firing into its effect; the engine decides when and
how often (exactly-once bookkeeping, activity log). Every value comes from the record snapshot
the engine hands over (the REST shape at the moment of the save, or, for scheduled actions, when
they fire), through the merge-field renderer, which substitutes each value once and never parses
substituted text again (security.md SB-5).

- function: arguments mapped with ``render`` (typed per §3; the executor converts them to the
  declared types), run as the user whose save triggered the rule, with the action's chain.
- field update: ``crm.records.update`` as a ``function`` write with ``workflow=False`` (it never
  fires rules; validation rules apply, since they hook into ``crm.records``).
- webhook: URL, headers and body rendered (a JSON body JSON-escapes what it substitutes),
  queued in the outbox with ``queue_webhook`` in the caller's transaction.
- e-mail: to/subject/body rendered, queued in the functions' mail outbox in the caller's
  transaction.
- task: a Tasks record related to the triggering record (``What_Id`` + ``$se_module``; ``Who_Id``
  for Contacts and Leads), owned by the record's owner; ``+2d`` values counted from the trigger
  time.
"""

from __future__ import annotations

import datetime as _dt
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.engine import Connection

from floodway.crm.service import Actor
from floodway.deluge.host import Mail
from floodway.functions.mailer import InvalidMail, validate_mail
from floodway.project.merge_fields import Template, render, render_json
from floodway.project.model import (
    Action,
    EmailAction,
    FieldUpdateAction,
    FunctionAction,
    TaskAction,
    WebhookAction,
)
from floodway.project.timing import Offset

from .planning import shifted_ms

if TYPE_CHECKING:
    from floodway.crm.service import Crm
    from floodway.functions.executor import ExecutionResult
    from floodway.functions.service import Functions

__all__ = ["ActionContext", "ActionRunner", "Outcome"]

_PERSON_MODULES: Final = frozenset({"Contacts", "Leads"})
_ADDRESS_SPLIT: Final = re.compile(r"[,;]")
_HTML_TAG: Final = re.compile(r"<[A-Za-z][^>]*>")
_FALLBACK_SENDER: Final = "workflow@floodway.invalid"
USER_TTL_S: Final = 2.0


@dataclass(frozen=True, slots=True)
class ActionContext:
    """One action of one firing, with everything needed to run it."""

    rule_id: str
    rule: str  # the rule's name
    on: str  # the rule's trigger
    module: str
    record_id: str
    index: int
    action: Action
    record: dict[str, Any]  # REST shape
    user_id: str | None  # run-as (the user whose save triggered); None: primary admin
    chain: tuple[str, int]  # the chain the action runs in (depth = firing depth + 1)
    trigger_ms: int

    @property
    def trigger(self) -> dict[str, Any]:
        return {
            "type": "workflow",
            "rule_id": self.rule_id,
            "rule": self.rule,
            "module": self.module,
            "record_id": self.record_id,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a non-function action ended, for the activity log."""

    status: str  # success | failure
    message: str


class ActionRunner:
    """Runs workflow actions of one org."""

    def __init__(self, crm: Crm, functions: Functions, webhooks: Any = None) -> None:
        self.crm = crm
        self.functions = functions
        self.webhooks = webhooks
        self._users: dict[str, float] = {}  # user id -> known to exist until (monotonic s)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ values

    def _org(self) -> dict[str, Any]:
        return {"time_zone": self.crm.time_zone_name}

    def _types(self, module: str) -> dict[str, str]:
        return self.crm.metadata.field_types(module)

    def _text(self, tpl: Template | None, ctx: ActionContext) -> str:
        if tpl is None:
            return ""
        value = render(
            tpl,
            ctx.record,
            ctx.module,
            self._org(),
            field_types=self._types(ctx.module),
            declared_type="string",
        )
        return "" if value is None else str(value)

    def _input(self, tpl: Template, ctx: ActionContext) -> Any:
        """A field value to write: a lone merge field keeps its REST value (a lookup or owner
        as its id), anything else is text."""
        single = tpl.single
        if single is not None and single.kind == "field" and single.sub is None:
            name = single.field or ""
            if name.lower() != "id":
                raw = _get(ctx.record, name)
                return raw.get("id") if isinstance(raw, Mapping) else raw
        return self._text(tpl, ctx)

    # ------------------------------------------------------------------ function

    def function_arguments(self, ctx: ActionContext) -> dict[str, Any]:
        """The mapped arguments (typed values; the executor converts to the declared types)."""
        action = ctx.action
        assert isinstance(action, FunctionAction)
        live = self.functions.registry.live(action.function)
        declared = dict(live.program.params) if live is not None else {}
        types = self._types(ctx.module)
        org = self._org()
        out: dict[str, Any] = {}
        for name, tpl in action.arguments.items():
            out[name] = render(
                tpl,
                ctx.record,
                ctx.module,
                org,
                field_types=types,
                declared_type=declared.get(name),
            )
        return out

    def run_function(
        self,
        ctx: ActionContext,
        arguments: Mapping[str, Any],
        execution_id: str,
        on_record: Callable[[Connection], None] | None = None,
    ) -> ExecutionResult:
        """Run the function as ``ctx.user_id`` under the pre-allocated ``execution_id``;
        ``on_record`` runs in the transaction that stores the execution."""
        action = ctx.action
        assert isinstance(action, FunctionAction)
        return self.functions.executor.run(
            action.function,
            arguments,
            user_id=self.run_as(ctx.user_id),
            trigger=ctx.trigger,
            chain=ctx.chain,
            execution_id=execution_id,
            on_record=on_record,
        )

    @staticmethod
    def field_update_message(action: FieldUpdateAction) -> str:
        """The activity message of a field update that was written."""
        return f"updated {', '.join(action.values)}"

    def run_as(self, user_id: str | None) -> str | None:
        """The triggering user while they exist; otherwise the primary admin (None). A user
        seen to exist is remembered for ``USER_TTL_S`` (the executor caches users as long)."""
        if user_id is None:
            return None
        now = time.monotonic()
        if self._users.get(user_id, 0.0) > now:
            return user_id
        if self.crm.users.get(user_id) is None:
            return None
        with self._lock:
            if len(self._users) > 10_000:
                self._users = {}
            self._users[user_id] = now + USER_TTL_S
        return user_id

    def actor(self, ctx: ActionContext) -> Actor:
        """Writes of field updates and tasks: a function write that fires no rule, in the
        action's chain."""
        uid = self.run_as(ctx.user_id) or self.crm.primary_admin_id or ""
        return Actor(str(uid), "function", False, ctx.chain)

    # ------------------------------------------------------------------ field update

    def field_update(self, ctx: ActionContext) -> Outcome:
        action = ctx.action
        assert isinstance(action, FieldUpdateAction)
        values = {name: self._input(tpl, ctx) for name, tpl in action.values.items()}
        records: Any = self.crm.records  # its ``list`` method shadows the builtin for mypy
        res = records.update(ctx.module, [values], actor=self.actor(ctx), record_id=ctx.record_id)[
            0
        ]
        if res.get("status") == "success":
            return Outcome("success", self.field_update_message(action))
        return Outcome("failure", _write_error(res))

    # ------------------------------------------------------------------ task

    def task(self, ctx: ActionContext) -> Outcome:
        action = ctx.action
        assert isinstance(action, TaskAction)
        types = self._types("Tasks")
        row: dict[str, Any] = {}
        for name, value in action.values.items():
            if isinstance(value, Offset):
                row[name] = self._relative(value, ctx.trigger_ms, types.get(name))
            else:
                row[name] = self._input(value, ctx)
        keys = {k.lower() for k in row}
        if ctx.on != "delete" and not keys & {"what_id", "who_id"}:
            if ctx.module in _PERSON_MODULES:
                row["Who_Id"] = ctx.record_id
            else:
                row["What_Id"] = ctx.record_id
                row["$se_module"] = ctx.module
        owner = ctx.record.get("Owner")
        if "owner" not in keys and isinstance(owner, Mapping) and owner.get("id"):
            row["Owner"] = str(owner["id"])
        records: Any = self.crm.records
        res = records.create("Tasks", [row], actor=self.actor(ctx))[0]
        if res.get("status") == "success":
            return Outcome("success", f"created task {res['details']['id']}")
        return Outcome("failure", _write_error(res))

    def _relative(self, offset: Offset, base_ms: int, ftype: str | None) -> str:
        moment = _dt.datetime.fromtimestamp(
            shifted_ms(base_ms, offset, self.crm.tz) / 1000, _dt.UTC
        )
        if ftype == "date":
            return moment.astimezone(self.crm.tz).date().isoformat()
        return moment.isoformat().replace("+00:00", "Z")

    # ------------------------------------------------------------------ webhook

    def webhook(self, conn: Connection, ctx: ActionContext) -> Outcome:
        action = ctx.action
        assert isinstance(action, WebhookAction)
        if self.webhooks is None:
            return Outcome("failure", "webhooks are not available in this process")
        types = self._types(ctx.module)
        org = self._org()
        if action.url.single is not None:
            url = self._text(action.url, ctx)
        else:  # values substituted into a URL are percent-encoded
            url = str(
                render(
                    action.url,
                    ctx.record,
                    ctx.module,
                    org,
                    field_types=types,
                    escape=lambda s: urllib.parse.quote(s, safe=""),
                )
            )
        headers: list[tuple[str, str]] = []
        for name, tpl in action.headers.items():
            value = self._text(tpl, ctx)
            if any(c in value for c in "\r\n\x00"):
                return Outcome("failure", f"header {name} would contain a line break")
            headers.append((name, value))
        body: str | None = None
        if action.body is not None:
            if action.body_is_json:
                body = render_json(action.body, ctx.record, ctx.module, org, field_types=types)
            else:
                body = self._text(action.body, ctx)
        webhook_id = self.webhooks.queue_webhook(
            conn,
            url=url,
            method=action.method,
            headers=headers,
            body=body,
            rule_id=ctx.rule_id,
            rule=ctx.rule,
            module=ctx.module,
            record_id=ctx.record_id,
            chain=ctx.chain,
        )
        return Outcome("success", f"webhook {webhook_id} queued: {action.method} {url[:200]}")

    # ------------------------------------------------------------------ e-mail

    def email(self, conn: Connection, ctx: ActionContext) -> Outcome:
        action = ctx.action
        assert isinstance(action, EmailAction)
        to = [a.strip() for a in _ADDRESS_SPLIT.split(self._text(action.to, ctx)) if a.strip()]
        if not to:
            return Outcome("failure", "the e-mail has no recipient (the 'to' value is empty)")
        body = self._text(action.body, ctx)
        mail = Mail(
            sender=self._sender(ctx),
            to=to,
            subject=self._text(action.subject, ctx),
            message=body,
            content_type="text/html" if _HTML_TAG.search(body) else "text/plain",
        )
        try:
            validate_mail(mail, _FALLBACK_SENDER)
        except InvalidMail as exc:
            return Outcome("failure", str(exc))
        mail_id = self.functions.outbox.queue(conn, mail)
        return Outcome("success", f"e-mail {mail_id} queued to {', '.join(to)[:200]}")

    def _sender(self, ctx: ActionContext) -> str:
        """The triggering user's address (the primary admin's when that user is gone)."""
        for uid in (ctx.user_id, self.crm.primary_admin_id):
            user = self.crm.users.get(uid) if uid else None
            if user is not None and user.email:
                return str(user.email)
        return ""


def _get(record: Mapping[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    low = name.lower()
    return next((v for k, v in record.items() if k.lower() == low), None)


def _write_error(res: Mapping[str, Any]) -> str:
    """A CRM row error as one line: code, message and the field it is about."""
    details = res.get("details") or {}
    field = details.get("api_name") if isinstance(details, Mapping) else None
    text = f"{res.get('code', 'ERROR')}: {res.get('message', '')}"
    return f"{text} ({field})" if field else text
