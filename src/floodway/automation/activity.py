"""The workflow activity log (``automation_activity``): what non-function actions did, and every
firing the loop guard or a scheduled re-check suppressed (functions-platform.md §5: visible,
never silent). Function actions are logged as executions; their skips appear here too, with the
id of the skipped execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.functions.model import ms_to_iso

from . import schema as _schema

__all__ = ["Entry", "list_activity", "write"]

T = _schema.automation_activity
MESSAGE_CHARS: Final = 2000


@dataclass(frozen=True, slots=True)
class Entry:
    rule_id: str | None
    rule: str | None
    module: str | None
    record_id: str | None
    action_index: int | None
    kind: str | None
    status: str  # success | failure | skipped | interrupted
    message: str
    execution_id: str | None = None
    chain_id: str | None = None
    chain_depth: int | None = None


_INSERT = T.insert()


def write(conn: Connection, entry: Entry, *, entry_id: int, org_id: int, now_ms: int) -> None:
    row = {
        "id": entry_id,
        "org_id": org_id,
        "rule_id": _int(entry.rule_id),
        "rule": (entry.rule or None) and entry.rule[:200],
        "module": entry.module,
        "record_id": _int(entry.record_id),
        "action_index": entry.action_index,
        "kind": entry.kind,
        "status": entry.status,
        "message": entry.message[:MESSAGE_CHARS],
        "execution_id": _int(entry.execution_id),
        "chain_id": _int(entry.chain_id),
        "chain_depth": entry.chain_depth,
        "created_ms": now_ms,
    }
    conn.execute(_INSERT, row)  # one cached statement, the values as parameters


def list_activity(
    conn: Connection,
    org_id: int,
    *,
    rule_id: Any = None,
    record_id: Any = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first."""
    q = sa.select(T).where(T.c.org_id == org_id)
    if rule_id is not None:
        q = q.where(T.c.rule_id == _int(rule_id))
    if record_id is not None:
        q = q.where(T.c.record_id == _int(record_id))
    rows = conn.execute(q.order_by(T.c.id.desc()).limit(max(1, min(int(limit), 1000)))).all()
    return [to_json(r) for r in rows]


def to_json(r: Any) -> dict[str, Any]:
    def text(v: Any) -> str | None:
        return str(v) if v is not None else None

    return {
        "id": str(r.id),
        "rule_id": text(r.rule_id),
        "rule": r.rule,
        "module": r.module,
        "record_id": text(r.record_id),
        "action_index": r.action_index,
        "kind": r.kind,
        "status": r.status,
        "message": r.message,
        "execution_id": text(r.execution_id),
        "chain_id": text(r.chain_id),
        "chain_depth": r.chain_depth,
        "created_time": ms_to_iso(r.created_ms),
    }


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        return None
