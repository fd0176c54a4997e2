"""Embedded job queue: ``jobs.lock``, jobs sharing a lock run one at a time in enqueue order.

The instant actions of one rule firing run one after another (functions-platform.md §4.4), each
as its own job: they share a lock. On PostgreSQL procrastinate's own ``lock`` column does this;
this is the embedded queue's equivalent. The partial index serves the claim's look-up of an
earlier or running job of the same lock.

Revision ID: 0010_job_locks
Revises: 0009_records_sort_indexes
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_job_locks"
down_revision = "0009_records_sort_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("lock", sa.String(200), nullable=True))
    op.create_index(
        "ix_jobs_lock",
        "jobs",
        ["lock", "id"],
        postgresql_where=sa.text("lock IS NOT NULL"),
        sqlite_where=sa.text("lock IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_lock", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lock")
