"""Functions platform: registry and versions, executions, mail outbox, quotas, org variables,
connections and record attachments (``floodway.functions.schema``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False)


def upgrade() -> None:
    op.create_table(
        "functions",
        _id(),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("api_name", sa.String(length=100), nullable=False),
        sa.Column("api_key", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("return_type", sa.String(length=20), nullable=True),
        sa.Column("arguments", JSON, nullable=False),
        sa.Column("rest_enabled", sa.Boolean(), nullable=False),
        sa.Column("rest_auth", sa.String(length=10), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=True),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("live_version", sa.Integer(), nullable=True),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("modified_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("modified_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "api_key", name="uq_functions_org_api_key"),
    )
    op.create_table(
        "function_versions",
        _id(),
        sa.Column("function_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("return_type", sa.String(length=20), nullable=True),
        sa.Column("arguments", JSON, nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("published_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["function_id"], ["functions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("function_id", "number", name="uq_function_versions_number"),
    )
    op.create_table(
        "executions",
        _id(),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("function_id", sa.BigInteger(), nullable=True),
        sa.Column("function", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("trigger_type", sa.String(length=20), nullable=False),
        sa.Column("trigger", JSON, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("caller", sa.String(length=20), nullable=False),
        sa.Column("run_as", sa.BigInteger(), nullable=True),
        sa.Column("arguments", JSON, nullable=False),
        sa.Column("output", JSON, nullable=True),
        sa.Column("output_text", sa.Text(), nullable=True),
        sa.Column("output_truncated", sa.Boolean(), nullable=False),
        sa.Column("info", JSON, nullable=False),
        sa.Column("error", JSON, nullable=True),
        sa.Column("notes", JSON, nullable=False),
        sa.Column("statements", sa.Integer(), nullable=False),
        sa.Column("http_calls", JSON, nullable=False),
        sa.Column("emails", JSON, nullable=False),
        sa.Column("records", JSON, nullable=False),
        sa.Column("client_actions", JSON, nullable=False),
        sa.Column("started_time", sa.BigInteger(), nullable=False),
        sa.Column("finished_time", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("rerun_of", sa.BigInteger(), nullable=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("chain_depth", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_executions_org_id", "executions", ["org_id", "id"])
    op.create_index("ix_executions_function", "executions", ["org_id", "function", "id"])
    op.create_index("ix_executions_status", "executions", ["org_id", "status", "id"])
    op.create_index("ix_executions_started", "executions", ["started_time"])
    op.create_table(
        "outbox_mail",
        _id(),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("execution_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("recipients", JSON, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("attachments", JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_time", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("sent_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_mail_due", "outbox_mail", ["status", "next_attempt_time"])
    op.create_index("ix_outbox_mail_execution", "outbox_mail", ["execution_id"])
    op.create_table(
        "quota_counters",
        sa.Column("org_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "kind", "day"),
    )
    op.create_table(
        "org_variables",
        _id(),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("modified_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "name_key", name="uq_org_variables_name"),
    )
    op.create_table(
        "connections",
        _id(),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("secrets", JSON, nullable=False),
        sa.Column("fingerprint", sa.String(length=80), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("modified_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "name_key", name="uq_connections_name"),
    )
    op.create_table(
        "record_attachments",
        _id(),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("module", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("modified_by", sa.BigInteger(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("modified_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_record_attachments_record", "record_attachments", ["record_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_record_attachments_record", table_name="record_attachments")
    op.drop_table("record_attachments")
    op.drop_table("connections")
    op.drop_table("org_variables")
    op.drop_table("quota_counters")
    op.drop_index("ix_outbox_mail_execution", table_name="outbox_mail")
    op.drop_index("ix_outbox_mail_due", table_name="outbox_mail")
    op.drop_table("outbox_mail")
    for name in (
        "ix_executions_started",
        "ix_executions_status",
        "ix_executions_function",
        "ix_executions_org_id",
    ):
        op.drop_index(name, table_name="executions")
    op.drop_table("executions")
    op.drop_table("function_versions")
    op.drop_table("functions")
