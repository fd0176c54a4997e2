"""Job engine: idempotency keys, the embedded queue and its workers (``floodway.jobs.schema``);
on PostgreSQL also procrastinate's own schema.

procrastinate's SQL is read from the installed package at migration time (its
``sql/schema.sql``), so the database gets exactly the schema of the pinned version. Later
procrastinate upgrades must add a floodway migration that applies the files of
``procrastinate/sql/migrations/`` between the two versions.

Revision ID: 0004_jobs
Revises: 0003
Create Date: 2026-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_jobs"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "job_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_job_keys_created", "job_keys", ["created_ms"])
    op.create_table(
        "jobs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("args", JSON, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("run_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("recovered", sa.Boolean(), nullable=False),
        sa.Column("worker_id", sa.BigInteger(), nullable=True),
        sa.Column("started_ms", sa.BigInteger(), nullable=True),
        sa.Column("finished_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_jobs_status_run_at", "jobs", ["status", "run_at_ms"])
    op.create_table(
        "job_workers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("heartbeat_ms", sa.BigInteger(), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        # Many statements and dollar-quoted function bodies: sent as one simple query on the
        # driver's connection (no parameters, so no placeholder parsing), in this migration's
        # transaction.
        bind.connection.driver_connection.execute(SchemaManager.get_schema())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _drop_procrastinate(bind)
    op.drop_table("job_workers")
    op.drop_index("ix_jobs_status_run_at", table_name="jobs")
    op.drop_table("jobs")
    op.drop_index("ix_job_keys_created", table_name="job_keys")
    op.drop_table("job_keys")


def _drop_procrastinate(bind: sa.Connection) -> None:
    """Drop every procrastinate table, function and type (all are named ``procrastinate_*``)."""
    for (name,) in bind.execute(
        sa.text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'procrastinate\\_%'")
    ):
        bind.execute(sa.text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
    for (signature,) in bind.execute(
        sa.text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'"
        )
    ):
        bind.execute(sa.text(f"DROP FUNCTION IF EXISTS {signature} CASCADE"))
    for (name,) in bind.execute(
        sa.text(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%' "
            "AND t.typtype IN ('e', 'c')"
        )
    ):
        bind.execute(sa.text(f'DROP TYPE IF EXISTS "{name}" CASCADE'))
