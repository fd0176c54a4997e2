"""Which workflow rules an event fires: trigger, criteria, repeat (functions-platform.md §4.1-4.3).

The trigger test is pure (it looks only at the event). Criteria are compiled once per rule
version against the module's field types and evaluated on the record in REST shape. ``repeat =
"first_time"`` is a row in ``workflow_first_runs`` per (rule, record), written in the transaction
of the firing, so two concurrent saves of one record cannot both be "the first time".
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.crm.criteria import Criteria, CriteriaError, compile_criteria
from floodway.crm.events import RecordChange
from floodway.project.model import Workflow

from . import schema as _schema
from .sql import insert_ignore

__all__ = [
    "EVENT_TRIGGERS",
    "CriteriaCache",
    "already_ran",
    "claim_first_run",
    "trigger_matches",
]

# Triggers fired by a record change; "date" rules are planned instead (planning.py).
EVENT_TRIGGERS: Final = frozenset({"create", "edit", "create_or_edit", "field_update", "delete"})


def _lower(names: Iterable[str]) -> set[str]:
    return {n.lower() for n in names}


def trigger_matches(rule: Workflow, event: RecordChange) -> bool:
    """Whether ``event`` is of the kind ``rule.on`` fires for (§4.1).

    ``fields`` narrows ``field_update`` (required there) and the edits of ``edit`` /
    ``create_or_edit`` to changes of one of the listed fields; a create is never narrowed."""
    on = rule.on
    action = event.action
    if on == "delete":
        return action == "delete"
    if on == "create":
        return action == "create"
    if action != "update" or not event.changed:
        return on == "create_or_edit" and action == "create"
    if on not in ("edit", "create_or_edit", "field_update"):
        return False
    if rule.fields:
        return bool(_lower(rule.fields) & _lower(event.changed))
    return on != "field_update"


Predicate = Callable[[Mapping[str, Any]], bool]


class CriteriaCache:
    """Compiled criteria per (rule id, rule version); field types change rarely, so the module's
    types are part of the key too (a new field compiles the criteria again)."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, int, int], Predicate] = {}
        self._lock = threading.Lock()

    def matches(
        self,
        rule_id: str,
        version: int,
        criteria: Criteria | None,
        record: Mapping[str, Any],
        field_types: Mapping[str, str],
        tz: _dt.tzinfo,
    ) -> bool:
        """Whether ``record`` meets the criteria (none: always). ``CriteriaError`` when they no
        longer fit the module's fields (a field was deleted after the rule was saved)."""
        if criteria is None:
            return True
        key = (rule_id, version, hash(tuple(sorted(field_types.items()))))
        pred = self._compiled.get(key)
        if pred is None:
            pred = compile_criteria(criteria, field_types, tz)
            with self._lock:
                if len(self._compiled) > 5000:
                    self._compiled = {}
                self._compiled[key] = pred
        return pred(record)


def already_ran(conn: Connection, rule_id: str, record_id: str) -> bool:
    """``repeat = "first_time"``: whether the rule has fired for the record before."""
    T = _schema.workflow_first_runs
    found = conn.execute(
        sa.select(T.c.rule_id).where(T.c.rule_id == int(rule_id), T.c.record_id == int(record_id))
    ).first()
    return found is not None


def claim_first_run(conn: Connection, rule_id: str, record_id: str, now_ms: int) -> bool:
    """Note the first firing of ``rule_id`` for ``record_id``; False when it was already noted
    (a concurrent save got there first)."""
    return insert_ignore(
        conn,
        _schema.workflow_first_runs,
        {"rule_id": int(rule_id), "record_id": int(record_id), "created_ms": now_ms},
    )


__all__ += ["CriteriaError"]
