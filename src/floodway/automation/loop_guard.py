"""The loop guard of workflow rules (functions-platform.md §5).

Every write belongs to a causal chain: a user's or API client's write starts one at depth 0, and
the actions of a rule fired at depth d run, and write, at depth d + 1. Rules do not fire for
writes at depth ``workflow_max_chain_depth`` (5) or more, nor twice for one (rule, record) in one
chain. The second test is a row in ``workflow_chain_runs`` inserted in the transaction of the
firing: of two concurrent writes of the same chain, only one can fire the rule.

A suppressed firing is never silent: ``check`` returns the reason the caller records (a skipped
execution for function actions, an activity row for the others).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from . import schema as _schema
from .sql import insert_ignore

__all__ = ["DEFAULT_MAX_DEPTH", "LoopGuard"]

DEFAULT_MAX_DEPTH: Final = 5


class LoopGuard:
    """Decides whether a rule may fire for a record at a point of a chain."""

    def __init__(self, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.max_depth = max_depth

    def depth_reason(self, depth: int) -> str | None:
        """The reason a write at ``depth`` fires no rule, or None (no database needed)."""
        if depth >= self.max_depth:
            return f"loop guard: chain depth {self.max_depth} reached"
        return None

    def check(
        self,
        conn: Connection,
        *,
        chain_id: str,
        depth: int,
        rule_id: str,
        rule_name: str,
        record_id: str,
        now_ms: int,
    ) -> str | None:
        """None when the rule may fire (and note that it did, in ``conn``'s transaction);
        otherwise the reason it is suppressed."""
        reason = self.depth_reason(depth)
        if reason is not None:
            return reason
        fresh = insert_ignore(
            conn,
            _schema.workflow_chain_runs,
            {
                "chain_id": int(chain_id),
                "rule_id": int(rule_id),
                "record_id": int(record_id),
                "created_ms": now_ms,
            },
        )
        if not fresh:
            return (
                f"loop guard: rule '{rule_name}' already ran for record {record_id} in this chain"
            )
        return None

    def check_many(
        self,
        conn: Connection,
        *,
        chain_id: str,
        depth: int,
        rules: Sequence[tuple[str, str]],
        record_id: str,
        now_ms: int,
    ) -> dict[str, str | None]:
        """``check`` for several rules ((id, name) pairs, distinct ids) of one record change,
        with one statement: rule id -> None (may fire; noted) or the reason it is
        suppressed."""
        reason = self.depth_reason(depth)
        if reason is not None or not rules:
            return {rule_id: reason for rule_id, _ in rules}
        T = _schema.workflow_chain_runs
        rows = [
            {"chain_id": int(chain_id), "rule_id": int(rule_id), "record_id": int(record_id)}
            for rule_id, _ in rules
        ]
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(T).values(rows).on_conflict_do_nothing().returning(T.c.rule_id)
        fresh = {str(r[0]) for r in conn.execute(stmt)}
        return {
            rule_id: None
            if rule_id in fresh
            else f"loop guard: rule '{name}' already ran for record {record_id} in this chain"
            for rule_id, name in rules
        }
