"""Small SQL helpers the workflow engine needs on both SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

__all__ = ["insert_ignore"]


def insert_ignore(conn: Connection, table: sa.Table, values: dict[str, Any]) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``: True when the row was inserted, False when a row
    with the same key exists. Keys that are not columns of ``table`` are left out."""
    row = {k: v for k, v in values.items() if k in table.c}
    return conn.execute(_ignoring_insert(table, conn.dialect.name), row).first() is not None


@functools.cache
def _ignoring_insert(table: sa.Table, dialect: str) -> Any:
    """Built once per table and dialect, the values passed as parameters: a statement built
    per call costs more Python time than its round trip (SQLAlchemy's cache key)."""
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - other databases are not supported
        raise RuntimeError(f"unsupported database {dialect}")
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT.
    return stmt.returning(next(iter(table.primary_key.columns)))
