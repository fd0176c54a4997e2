"""Console: indexes for the executions pages at 100,000s of executions (benchmarks/ui.py).

- ``ix_executions_recent`` (org, start time, status, function, version, duration, statements,
  id)
  covers what the functions list, the version history and the dashboard aggregate over a time
  range, so those read the index alone instead of every execution row of the range;
- ``ix_executions_record`` on the trigger's ``record_id`` serves the record page's automation
  panel and the log's record filter (an exact match instead of a text scan of every trigger);
- ``ix_executions_chain`` and ``ix_executions_rerun`` serve an execution's chain and its re-runs
  on the detail page.

The record expression is exactly the one ``web/execution_queries.py`` emits, so the planners can
use it.

Revision ID: 0007_console_indexes
Revises: 0006_console_sessions
Create Date: 2026-02-06
"""

from __future__ import annotations

from alembic import op

revision = "0007_console_indexes"
down_revision = "0006_console_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_executions_recent",
        "executions",
        [
            "org_id",
            "started_time",
            "status",
            "function",
            "version",
            "duration_ms",
            "statements",
            "id",
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        record = "(\"trigger\" ->> 'record_id')"
    else:
        record = "json_extract(\"trigger\", '$.record_id')"
    op.execute(f"CREATE INDEX ix_executions_record ON executions (org_id, {record}, id)")
    op.create_index("ix_executions_chain", "executions", ["chain_id"])
    op.create_index("ix_executions_rerun", "executions", ["rerun_of"])


def downgrade() -> None:
    op.drop_index("ix_executions_rerun", table_name="executions")
    op.drop_index("ix_executions_chain", table_name="executions")
    op.drop_index("ix_executions_record", table_name="executions")
    op.drop_index("ix_executions_recent", table_name="executions")
