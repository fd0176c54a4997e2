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

from typing import Final

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
