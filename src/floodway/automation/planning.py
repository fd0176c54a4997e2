"""Scheduled workflow actions and date rules: when they are due, and their ``scheduled_actions``
rows (functions-platform.md §4.1, §4.5).

Two kinds of rows, both paired with a delayed job:

- a scheduled action (``after = "3d"``): ``action_index`` is the action's position; it is due
  that long after the trigger time. ``m``/``h`` are elapsed time, ``d``/``w`` calendar days in
  the org time zone (a "1d" action planned before a daylight-saving change fires at the same
  wall-clock time the next day).
- a date rule's firing: ``action_index`` is null; it is due at the record's date
  field plus the rule's ``offset``, at ``at`` (date fields; default 00:00) in the org time zone.
  It is re-planned (the pending row cancelled, a new one written) when the field changes and
  cancelled when the record is deleted. A time already past when the record is saved is not
  planned at all.

A row's job re-reads the row when it runs: a cancelled row does nothing, so nothing needs to
reach into the job queue to take a job back.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.crm.criteria import parse_date, parse_datetime
from floodway.project.model import Workflow
from floodway.project.timing import Duration, Offset

from . import schema as _schema

__all__ = [
    "after_due_ms",
    "cancel_date_rules",
    "date_rule_due_ms",
    "insert_row",
    "load",
    "pending_rows",
    "set_status",
    "shifted_ms",
]


def _utc_ms(moment: _dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_ms(ms: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC)


def _shift(moment: _dt.datetime, amount: int, unit: str, tz: _dt.tzinfo) -> _dt.datetime:
    """``moment`` moved by a signed amount: minutes/hours elapsed, days/weeks on the wall clock
    of ``tz`` (aware arithmetic in a zone keeps the local time of day)."""
    if unit in ("m", "h"):
        return moment + _dt.timedelta(minutes=amount * (60 if unit == "h" else 1))
    days = amount * (7 if unit == "w" else 1)
    local = moment.astimezone(tz) + _dt.timedelta(days=days)
    # Normalise through UTC: a wall-clock time that does not exist (spring forward) moves on.
    return local.astimezone(_dt.UTC)


def after_due_ms(trigger_ms: int, after: Duration, tz: _dt.tzinfo) -> int:
    """When a scheduled action triggered at ``trigger_ms`` is due."""
    return _utc_ms(_shift(_from_ms(trigger_ms), after.amount, after.unit, tz))


def shifted_ms(base_ms: int, offset: Offset, tz: _dt.tzinfo) -> int:
    """``base_ms`` moved by a signed offset (task values such as ``+2d``)."""
    return _utc_ms(_shift(_from_ms(base_ms), offset.amount, offset.unit, tz))


def date_rule_due_ms(
    rule: Workflow, record: Mapping[str, Any], field_types: Mapping[str, str], tz: _dt.tzinfo
) -> int | None:
    """When ``rule`` (``on = "date"``) is due for ``record`` (REST shape); None when the field
    is empty or unreadable."""
    name = rule.date_field
    if name is None:
        return None
    raw = record.get(name)
    if raw is None:
        low = name.lower()
        raw = next((v for k, v in record.items() if k.lower() == low), None)
    if not isinstance(raw, str) or not raw:
        return None
    ftype = field_types.get(name, "date")
    offset = rule.offset or Offset(0, "d")
    if ftype == "date":
        day = parse_date(raw[:10])
        if day is None:
            return None
        day = day + _dt.timedelta(days=offset.days)
        at = rule.at or _dt.time(0, 0)
        local = _dt.datetime.combine(day, at, tzinfo=tz)
        return _utc_ms(local.astimezone(_dt.UTC))
    moment = parse_datetime(raw, tz)
    if moment is None:
        return None
    return _utc_ms(_shift(moment, offset.amount, offset.unit, tz))


# --------------------------------------------------------------------------------------------
# Rows


def insert_row(
    conn: Connection,
    *,
    row_id: int,
    org_id: int,
    rule_id: str,
    module: str,
    record_id: str,
    action_index: int | None,
    due_ms: int,
    chain_id: str,
    chain_depth: int,
    event_id: str,
    user_id: str,
    now_ms: int,
) -> None:
    """A ``pending`` row. ``chain_depth`` is the depth its actions run at."""
    T = _schema.scheduled_actions
    values = {
        "id": row_id,
        "org_id": org_id,
        "rule_id": int(rule_id),
        "module": module,
        "record_id": int(record_id),
        "action_index": action_index,
        "due_ms": due_ms,
        "status": "pending",
        "chain_id": int(chain_id),
        "chain_depth": chain_depth,
        "event_id": int(event_id),
        "user_id": int(user_id),
        "created_ms": now_ms,
    }
    conn.execute(T.insert().values({k: v for k, v in values.items() if k in T.c}))


def cancel_date_rules(
    conn: Connection, org_id: int, record_id: str, rule_ids: Iterable[str] | None = None
) -> int:
    """Cancel the pending date-rule firings of a record (of the given rules; None: all)."""
    T = _schema.scheduled_actions
    q = T.update().where(
        T.c.org_id == org_id,
        T.c.record_id == int(record_id),
        T.c.action_index.is_(None),
        T.c.status == "pending",
    )
    if rule_ids is not None:
        ids = [int(r) for r in rule_ids]
        if not ids:
            return 0
        q = q.where(T.c.rule_id.in_(ids))
    return int(conn.execute(q.values(status="cancelled")).rowcount or 0)


def set_status(conn: Connection, row_id: int, status: str, *, only_if: str = "pending") -> bool:
    """Move a row from ``only_if`` to ``status``; False when it was not in ``only_if``."""
    T = _schema.scheduled_actions
    res = conn.execute(
        T.update().where(T.c.id == row_id, T.c.status == only_if).values(status=status)
    )
    return bool(res.rowcount == 1)


def load(conn: Connection, row_id: int) -> Any:
    T = _schema.scheduled_actions
    return conn.execute(sa.select(T).where(T.c.id == row_id)).first()


def pending_rows(conn: Connection, org_id: int, module: str, record_id: str) -> list[Any]:
    T = _schema.scheduled_actions
    return list(
        conn.execute(
            sa.select(T)
            .where(
                T.c.org_id == org_id,
                T.c.module == module,
                T.c.record_id == int(record_id),
                T.c.status == "pending",
            )
            .order_by(T.c.due_ms, T.c.id)
        ).all()
    )
