"""Automation: rule store, workflow bookkeeping, activity log, scheduled actions and the webhook
outbox (``floodway.automation.schema``).

Revision ID: 0005_automation
Revises: 0004_jobs
Create Date: 2026-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_automation"
down_revision = "0004_jobs"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False)


def upgrade() -> None:
    op.create_table(
        "automation_items",
        _id(),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("module", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("modified_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "kind", "module", "name", name="uq_automation_items_name"),
    )
    op.create_index(
        "ix_automation_items_order",
        "automation_items",
        ["org_id", "kind", "module", "position", "created_ms"],
    )
    op.create_table(
        "workflow_first_runs",
        sa.Column("rule_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("record_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("rule_id", "record_id"),
    )
    op.create_table(
        "workflow_chain_runs",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("rule_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("record_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "rule_id", "record_id"),
    )
    op.create_table(
        "automation_activity",
        _id(),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=True),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("module", sa.String(length=100), nullable=True),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("action_index", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("execution_id", sa.BigInteger(), nullable=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("chain_depth", sa.Integer(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_automation_activity_rule", "automation_activity", ["org_id", "rule_id", "id"]
    )
    op.create_index(
        "ix_automation_activity_record", "automation_activity", ["org_id", "record_id", "id"]
    )
    op.create_index("ix_automation_activity_org", "automation_activity", ["org_id", "id"])
    op.create_table(
        "action_runs",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("finished_ms", sa.BigInteger(), nullable=True),
        sa.Column("execution_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "scheduled_actions",
        _id(),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=False),
        sa.Column("module", sa.String(length=100), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("action_index", sa.Integer(), nullable=True),
        sa.Column("due_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("chain_depth", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_scheduled_actions_record",
        "scheduled_actions",
        ["org_id", "module", "record_id", "status"],
    )
    op.create_index(
        "ix_scheduled_actions_rule", "scheduled_actions", ["rule_id", "record_id", "status"]
    )
    op.create_index("ix_scheduled_actions_due", "scheduled_actions", ["status", "due_ms"])
    op.create_table(
        "outbox_webhooks",
        _id(),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=True),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("module", sa.String(length=100), nullable=True),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", JSON, nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger(), nullable=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("chain_depth", sa.Integer(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("modified_ms", sa.BigInteger(), nullable=True),
        sa.Column("sent_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_webhooks_status", "outbox_webhooks", ["org_id", "status", "id"])
    op.create_index("ix_outbox_webhooks_org", "outbox_webhooks", ["org_id", "id"])
    op.create_table(
        "schedule_state",
        sa.Column("item_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("timing", sa.Text(), nullable=False),
        sa.Column("planned_ms", sa.BigInteger(), nullable=False),
        sa.Column("running_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_due_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_execution_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("item_id"),
    )


def downgrade() -> None:
    op.drop_table("schedule_state")
    op.drop_index("ix_outbox_webhooks_org", table_name="outbox_webhooks")
    op.drop_index("ix_outbox_webhooks_status", table_name="outbox_webhooks")
    op.drop_table("outbox_webhooks")
    op.drop_index("ix_scheduled_actions_due", table_name="scheduled_actions")
    op.drop_index("ix_scheduled_actions_rule", table_name="scheduled_actions")
    op.drop_index("ix_scheduled_actions_record", table_name="scheduled_actions")
    op.drop_table("scheduled_actions")
    op.drop_table("action_runs")
    op.drop_index("ix_automation_activity_org", table_name="automation_activity")
    op.drop_index("ix_automation_activity_record", table_name="automation_activity")
    op.drop_index("ix_automation_activity_rule", table_name="automation_activity")
    op.drop_table("automation_activity")
    op.drop_table("workflow_chain_runs")
    op.drop_table("workflow_first_runs")
    op.drop_index("ix_automation_items_order", table_name="automation_items")
    op.drop_table("automation_items")
