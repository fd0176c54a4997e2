"""Small SQL helpers the workflow engine needs on both SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.db import insert_ignoring

__all__ = ["insert_ignore"]


def insert_ignore(conn: Connection, table: sa.Table, values: dict[str, Any]) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``: True when the row was inserted, False when a row
    with the same key exists. Keys that are not columns of ``table`` are left out."""
    row = {k: v for k, v in values.items() if k in table.c}
    return conn.execute(insert_ignoring(table, conn.dialect.name), row).first() is not None
