"""Console: each user's preferences (``floodway.web.schema.console_preferences``), such as the
columns of a module's list.

Revision ID: 0013_console_preferences
Revises: 0012_records_sort_indexes_pg
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013_console_preferences"
down_revision = "0012_records_sort_indexes_pg"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_preferences",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("modified_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("console_preferences")
