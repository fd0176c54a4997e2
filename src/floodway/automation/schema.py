"""The automation layer's tables (SQLAlchemy Core), on the CRM's ``MetaData``.

Migration ``0005_automation`` creates exactly these (automation-service-api.md §2). Conventions as
in ``crm/schema.py``: ids are BIGINT snowflakes from ``crm.ids``, times BIGINT milliseconds since
the Unix epoch (UTC), JSON columns JSONB on PostgreSQL.

- ``automation_items``: workflow rules, buttons, related lists, validation rules and schedules,
  each stored as its manifest table (``definition``); ``module`` is ``''`` for schedules.
- ``workflow_first_runs``: ``repeat = "first_time"`` (a rule ran once for a record).
- ``workflow_chain_runs``: the loop guard's "once per rule and record in one chain".
- ``automation_activity``: non-function actions and every suppressed firing.
- ``action_runs``: exactly-once bookkeeping of started function actions (by job key).
- ``scheduled_actions``: ``after`` actions and date rules waiting for their time.
- ``outbox_webhooks``: webhook actions and their delivery attempts.
- ``schedule_state``: per schedule, the last planned due time and the run in progress.
"""

from __future__ import annotations

import sqlalchemy as sa

from floodway.crm.schema import JSONType, metadata

__all__ = [
    "action_runs",
    "automation_activity",
    "automation_items",
    "outbox_webhooks",
    "schedule_state",
    "scheduled_actions",
    "workflow_chain_runs",
    "workflow_first_runs",
]

automation_items = sa.Table(
    "automation_items",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    # workflow | button | related_list | validation | schedule
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("module", sa.String(100), nullable=False),  # '' for schedules
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("definition", JSONType, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("modified_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("org_id", "kind", "module", "name", name="uq_automation_items_name"),
    # list(kind, module) and active(): rule order within a module
    sa.Index("ix_automation_items_order", "org_id", "kind", "module", "position", "created_ms"),
)

workflow_first_runs = sa.Table(
    "workflow_first_runs",
    metadata,
    sa.Column("rule_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("record_id", sa.BigInteger, primary_key=True, autoincrement=False),
)

workflow_chain_runs = sa.Table(
    "workflow_chain_runs",
    metadata,
    sa.Column("chain_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("rule_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("record_id", sa.BigInteger, primary_key=True, autoincrement=False),
)

automation_activity = sa.Table(
    "automation_activity",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column("rule_id", sa.BigInteger, nullable=True),
    sa.Column("rule", sa.String(200), nullable=True),
    sa.Column("module", sa.String(100), nullable=True),
    sa.Column("record_id", sa.BigInteger, nullable=True),
    sa.Column("action_index", sa.Integer, nullable=True),
    sa.Column("kind", sa.String(20), nullable=True),  # action kind
    sa.Column("status", sa.String(12), nullable=False),  # success|failure|skipped|interrupted
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("execution_id", sa.BigInteger, nullable=True),
    sa.Column("chain_id", sa.BigInteger, nullable=True),
    sa.Column("chain_depth", sa.Integer, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    # activity(rule_id=…), activity(record_id=…), activity(): newest first
    sa.Index("ix_automation_activity_rule", "org_id", "rule_id", "id"),
    sa.Index("ix_automation_activity_record", "org_id", "record_id", "id"),
    sa.Index("ix_automation_activity_org", "org_id", "id"),
)

action_runs = sa.Table(
    "action_runs",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("started_ms", sa.BigInteger, nullable=False),
    sa.Column("finished_ms", sa.BigInteger, nullable=True),
    sa.Column("execution_id", sa.BigInteger, nullable=True),
)

scheduled_actions = sa.Table(
    "scheduled_actions",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column("rule_id", sa.BigInteger, nullable=False),
    sa.Column("module", sa.String(100), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("action_index", sa.Integer, nullable=True),  # None: a date rule's firing
    sa.Column("due_ms", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # pending|done|cancelled|skipped
    sa.Column("chain_id", sa.BigInteger, nullable=True),
    sa.Column("chain_depth", sa.Integer, nullable=True),
    sa.Column("event_id", sa.BigInteger, nullable=True),
    sa.Column("user_id", sa.BigInteger, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    # pending(module, record_id); cancel on delete
    sa.Index("ix_scheduled_actions_record", "org_id", "module", "record_id", "status"),
    # re-plan a date rule for one record
    sa.Index("ix_scheduled_actions_rule", "rule_id", "record_id", "status"),
    sa.Index("ix_scheduled_actions_due", "status", "due_ms"),
)

outbox_webhooks = sa.Table(
    "outbox_webhooks",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column("rule_id", sa.BigInteger, nullable=True),
    sa.Column("rule", sa.String(200), nullable=True),
    sa.Column("module", sa.String(100), nullable=True),
    sa.Column("record_id", sa.BigInteger, nullable=True),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("headers", JSONType, nullable=False),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("status", sa.String(10), nullable=False),  # pending|sent|failed
    sa.Column("attempts", JSONType, nullable=False),  # [{"at","status","error"}, ...]
    sa.Column("next_attempt_ms", sa.BigInteger, nullable=True),
    sa.Column("chain_id", sa.BigInteger, nullable=True),
    sa.Column("chain_depth", sa.Integer, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("modified_ms", sa.BigInteger, nullable=True),
    sa.Column("sent_ms", sa.BigInteger, nullable=True),
    # list(status=…): newest first
    sa.Index("ix_outbox_webhooks_status", "org_id", "status", "id"),
    sa.Index("ix_outbox_webhooks_org", "org_id", "id"),
)

schedule_state = sa.Table(
    "schedule_state",
    metadata,
    sa.Column("item_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column("timing", sa.Text, nullable=False),  # what planned_ms was computed from
    sa.Column("planned_ms", sa.BigInteger, nullable=False),  # latest due time planned as a job
    sa.Column("running_ms", sa.BigInteger, nullable=True),  # start of the run in progress
    sa.Column("last_due_ms", sa.BigInteger, nullable=True),  # due time of the latest started run
    sa.Column("last_execution_id", sa.BigInteger, nullable=True),
)
