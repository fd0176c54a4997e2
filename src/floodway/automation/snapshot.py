"""The triggering record as workflow rules see it: the REST shape, read inside a transaction.

Criteria and merge fields need what the REST API shows (lookups as ``{"name","id"}``, owners
with their e-mail, dates as ``yyyy-MM-dd`` text, times in the org time zone), while record-change
events carry the stored form (lookups and owners as bare ids). This module renders the record
through the CRM's own reader on the connection of the write, so an instant action sees exactly
the committed state of the save that fired it (functions-platform.md §3, "Snapshot timing").
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from floodway.crm.events import RecordChange
from floodway.crm.reading import RECORD_BY_ID
from floodway.project.merge_fields import Template
from floodway.project.model import (
    Action,
    EmailAction,
    FieldUpdateAction,
    FunctionAction,
    TaskAction,
    WebhookAction,
)

if TYPE_CHECKING:
    from floodway.crm.service import Crm

__all__ = ["current", "for_action", "of_event"]


def current(crm: Crm, conn: Connection, module: str, record_id: str) -> dict[str, Any] | None:
    """The record as stored now (``None`` when it does not exist, e.g. deleted since)."""
    mod = crm.metadata.find(module, conn)
    if mod is None:
        return None
    row = conn.execute(RECORD_BY_ID, {"rid": int(record_id), "module": int(mod.id)}).first()
    if row is None:
        return None
    return crm.records.reader.render(conn, mod, [row])[0]


def of_event(crm: Crm, conn: Connection, event: RecordChange) -> dict[str, Any] | None:
    """The record after ``event`` (for a delete: its last stored state, §4.2)."""
    if event.action != "delete":
        return current(crm, conn, event.module, event.record_id)
    old = event.old
    mod = crm.metadata.find(event.module, conn)
    if old is None or mod is None:
        return None
    row = SimpleNamespace(
        id=int(event.record_id),
        module_id=int(mod.id),
        name=None,
        data={k: v for k, v in old.items() if k != "id"},
        owner_id=int(old["Owner"]),
        created_by=int(old["Created_By"]),
        modified_by=int(old["Modified_By"]),
        created_time=_ms(old.get("Created_Time")),
        modified_time=_ms(old.get("Modified_Time")),
    )
    return crm.records.reader.render(conn, mod, [row])[0]


def for_action(record: Mapping[str, Any], action: Action) -> dict[str, Any]:
    """What an instant action's job carries of the snapshot: the fields its templates name
    (and the owner a task is given), not the whole record, which every job of the save would
    otherwise carry again."""
    names = {"id"}
    for template in _templates(action):
        for mf in template.merge_fields:
            if mf.kind == "field" and mf.field:
                names.add(mf.field.lower())
    if isinstance(action, TaskAction):
        names.add("owner")
    return {k: v for k, v in record.items() if k.lower() in names}


def _templates(action: Action) -> list[Template]:
    if isinstance(action, FunctionAction):
        return list(action.arguments.values())
    if isinstance(action, FieldUpdateAction):
        return list(action.values.values())
    if isinstance(action, WebhookAction):
        return [action.url, *action.headers.values(), *([action.body] if action.body else [])]
    if isinstance(action, EmailAction):
        return [action.to, action.subject, *([action.body] if action.body else [])]
    if isinstance(action, TaskAction):
        return [v for v in action.values.values() if isinstance(v, Template)]
    return []


def _ms(text: Any) -> int:
    if not isinstance(text, str) or not text:
        return 0
    moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return int(moment.timestamp() * 1000)
