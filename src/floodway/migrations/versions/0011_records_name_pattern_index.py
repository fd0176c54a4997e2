"""PostgreSQL: a ``text_pattern_ops`` index for name prefix searches.

``starts_with`` on a module's name field (the lists' search box, the command palette, criteria)
is ``lower(name) LIKE 'abc%'``. Migration 0002's ``(module_id, lower(name))`` index serves
equality but, under a database collation other than ``C``, not ``LIKE``: PostgreSQL then read
every record of the module (about 90 ms at 100,000 deals). This index uses the pattern operator
class, which serves prefix patterns under any collation. SQLite already turns the prefix into a
range on the 0002 index.

Revision ID: 0011_records_name_pattern_index
Revises: 0010_job_locks
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0011_records_name_pattern_index"
down_revision = "0010_job_locks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_records_module_name_pattern "
            "ON records (module_id, lower(name) text_pattern_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_records_module_name_pattern")
