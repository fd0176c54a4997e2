"""Idempotency keys (table ``job_keys``): a key is accepted once, ever, within a transaction.

Periodic due times are claimed the same way (``periodic:<name>:<due_ms>``), which is what makes a
tick run once per due time however many processes tick.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.db import insert_ignoring

from .model import MAX_KEY_LENGTH, JobError
from .schema import job_keys

PERIODIC_PREFIX: Final = "periodic:"
# Periodic claims only guard against a second process claiming the same recent due time; a day
# is far more than any clock skew between nodes.
PERIODIC_KEEP_MS: Final = 24 * 3600 * 1000


def check_key(key: str | None) -> None:
    if key is not None and (not key or len(key) > MAX_KEY_LENGTH):
        raise JobError(
            "INVALID_DATA",
            f"the job key must be 1 to {MAX_KEY_LENGTH} characters long",
            "key",
        )


def claim_key(conn: Connection, key: str, now_ms: int) -> bool:
    """Insert ``key`` in ``conn``'s transaction; False when it was taken before (or is being
    taken by a transaction that then commits: the second insert waits for it)."""
    check_key(key)
    stmt = insert_ignoring(job_keys, conn.dialect.name)
    return conn.execute(stmt, {"key": key, "created_ms": now_ms}).first() is not None


def claim_keys(conn: Connection, keys: list[str], now_ms: int) -> set[str]:
    """``claim_key`` for several distinct keys in one statement: the keys that were new."""
    for key in keys:
        check_key(key)
    if not keys:
        return set()
    rows = [{"key": key, "created_ms": now_ms} for key in keys]
    # Several parameter sets with RETURNING: SQLAlchemy sends them as one multi-row INSERT.
    return {row[0] for row in conn.execute(insert_ignoring(job_keys, conn.dialect.name), rows)}


def periodic_key(name: str, due_ms: int) -> str:
    return f"{PERIODIC_PREFIX}{name}:{due_ms}"


def purge_keys(conn: Connection, now_ms: int, retention_days: int) -> None:
    """Delete keys older than the retention period, and periodic claims older than a day."""
    old = now_ms - retention_days * 86_400_000
    conn.execute(sa.delete(job_keys).where(job_keys.c.created_ms < old))
    conn.execute(
        sa.delete(job_keys).where(
            job_keys.c.created_ms < now_ms - PERIODIC_KEEP_MS,
            job_keys.c.key.startswith(PERIODIC_PREFIX, autoescape=True),
        )
    )
