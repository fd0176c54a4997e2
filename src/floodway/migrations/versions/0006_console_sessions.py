"""Console: server-side sign-in sessions and failed sign-ins (``floodway.web.schema``,
security.md AUTH-6, AUTH-7).

Databases that ran the console before this revision already hold both tables (the console
created them when it started); they are left as they are.

Revision ID: 0006_console_sessions
Revises: 0005_automation
Create Date: 2026-02-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_console_sessions"
down_revision = "0005_automation"
branch_labels = None
depends_on = None


def _exists(name: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if not _exists("console_sessions"):
        op.create_table(
            "console_sessions",
            sa.Column("digest", sa.String(length=64), nullable=False),
            sa.Column("org_id", sa.BigInteger(), nullable=False),
            sa.Column("user_id", sa.BigInteger(), nullable=False),
            sa.Column("csrf", sa.String(length=64), nullable=False),
            sa.Column("created_ms", sa.BigInteger(), nullable=False),
            sa.Column("seen_ms", sa.BigInteger(), nullable=False),
            sa.Column("expires_ms", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("digest"),
        )
        op.create_index("ix_console_sessions_user", "console_sessions", ["user_id"])
    if not _exists("console_login_failures"):
        op.create_table(
            "console_login_failures",
            sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("org_id", sa.BigInteger(), nullable=False),
            sa.Column("account", sa.String(length=320), nullable=False),
            sa.Column("address", sa.String(length=64), nullable=False),
            sa.Column("created_ms", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            "ix_console_login_failures_key",
            "console_login_failures",
            ["account", "address", "created_ms"],
        )


def downgrade() -> None:
    op.drop_index("ix_console_login_failures_key", table_name="console_login_failures")
    op.drop_table("console_login_failures")
    op.drop_index("ix_console_sessions_user", table_name="console_sessions")
    op.drop_table("console_sessions")
