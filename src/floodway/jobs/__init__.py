"""The durable job engine: background jobs written in the caller's transaction, delayed jobs,
retries, recovery of jobs whose worker died, and periodic ticks (docs/jobs.md).

``open_queue`` picks the backend from the engine: jobs in SQLite itself (``EmbeddedQueue``) or
procrastinate on PostgreSQL (``ProcrastinateQueue``). Both behave the same.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from .base import JobQueue
from .model import Clock, Job, JobError, JobSettings, NewJob, RetryLater

__all__ = ["Job", "JobError", "JobQueue", "JobSettings", "NewJob", "RetryLater", "open_queue"]


def open_queue(engine: Engine, settings: Any = None, clock: Clock | None = None) -> JobQueue:
    """The job queue of ``engine``'s database (its schema must be migrated)."""
    if engine.dialect.name == "postgresql":
        from .postgres import ProcrastinateQueue

        return ProcrastinateQueue(engine, settings, clock)
    from .embedded import EmbeddedQueue

    return EmbeddedQueue(engine, settings, clock)
