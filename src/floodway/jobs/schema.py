"""The job engine's tables (SQLAlchemy Core); migration ``0004_jobs`` creates exactly these.

The tables live on their own ``MetaData``: the job engine sits below the CRM in the layers and
must not import it. Conventions as elsewhere: times are BIGINT milliseconds since the Unix epoch
(UTC), JSON columns are JSONB on PostgreSQL.

- ``job_keys``: idempotency keys, accepted once ever (both backends), and the claims of periodic
  due times (``periodic:<name>:<due_ms>``).
- ``jobs`` / ``job_workers``: the embedded (SQLite) backend's queue and its live workers. On
  PostgreSQL the jobs live in procrastinate's own tables; these two stay empty there.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

JSONType: Final = sa.JSON().with_variant(JSONB(), "postgresql")
# INTEGER PRIMARY KEY is SQLite's rowid alias (autoincrement); BIGINT identity elsewhere.
IdType: Final = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

job_keys = sa.Table(
    "job_keys",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_job_keys_created", "created_ms"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("args", JSONType, nullable=False),
    sa.Column("key", sa.String(200), nullable=True),
    sa.Column("status", sa.String(10), nullable=False),  # todo | doing | succeeded | failed
    sa.Column("run_at_ms", sa.BigInteger, nullable=True),  # NULL: as soon as possible
    sa.Column("attempts", sa.Integer, nullable=False),  # attempts started so far
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("recovered", sa.Boolean, nullable=False),  # an attempt died with its worker
    sa.Column("worker_id", sa.BigInteger, nullable=True),
    sa.Column("started_ms", sa.BigInteger, nullable=True),
    sa.Column("finished_ms", sa.BigInteger, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    # Jobs sharing a lock run one at a time, in enqueue (id) order (migration 0010).
    sa.Column("lock", sa.String(200), nullable=True),
    sa.Index("ix_jobs_status_run_at", "status", "run_at_ms"),
    sa.Index(
        "ix_jobs_lock",
        "lock",
        "id",
        postgresql_where=sa.text("lock IS NOT NULL"),
        sqlite_where=sa.text("lock IS NOT NULL"),
    ),
    sqlite_autoincrement=True,  # ids are never reused, even after a purge
)

job_workers = sa.Table(
    "job_workers",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("heartbeat_ms", sa.BigInteger, nullable=False),  # wall clock, not the queue clock
    sa.Column("started_ms", sa.BigInteger, nullable=False),
    sqlite_autoincrement=True,  # a new worker never takes the id of a dead one
)
