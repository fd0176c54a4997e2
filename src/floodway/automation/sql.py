"""Small SQL helpers the workflow engine needs on both SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

__all__ = ["insert_ignore"]


def insert_ignore(conn: Connection, table: sa.Table, values: dict[str, Any]) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``: True when the row was inserted, False when a row
    with the same key exists. Keys that are not columns of ``table`` are left out."""
    row = {k: v for k, v in values.items() if k in table.c}
    dialect = conn.dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).values(row).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(row).on_conflict_do_nothing()
    else:  # pragma: no cover - other databases are not supported
        raise RuntimeError(f"unsupported database {dialect}")
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT.
    first_key = next(iter(table.primary_key.columns))
    return conn.execute(stmt.returning(first_key)).first() is not None
