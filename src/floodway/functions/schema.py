"""The functions platform's tables (SQLAlchemy Core), on the CRM's ``MetaData``.

Migration ``0003_functions`` creates exactly these. Conventions as in ``crm/schema.py``: ids are
BIGINT snowflakes from ``crm.ids`` (execution ids therefore sort by start time), times are BIGINT
milliseconds since the Unix epoch (UTC), JSON columns are JSONB on PostgreSQL.

- ``functions`` / ``function_versions``: the registry. Versions are immutable rows; the function
  row says which number is live. Header facts (category, return type, arguments) are kept per
  version because a new version may change the header.
- ``executions``: one row per run, inserted when the run ends (no ``running`` rows yet).
- ``outbox_mail``: mail queued by ``sendmail``, written in the execution's transaction and kept
  after delivery.
- ``quota_counters``: per org, kind and UTC day; incremented atomically (DOS-1).
- ``execution_hourly``: finished executions counted per org, hour, function and status, with a
  small duration histogram (migration 0008); what the dashboard reads.
- ``org_variables``, ``connections`` (secrets as keyring envelopes, SEC-1) and
  ``record_attachments`` (``zoho.crm.attachFile``; the CRM has no attachment storage yet).
"""

from __future__ import annotations

import sqlalchemy as sa

from floodway.crm.schema import JSONType, metadata

functions = sa.Table(
    "functions",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("api_name", sa.String(100), nullable=False),
    sa.Column("api_key", sa.String(100), nullable=False),  # lower-case api name
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("category", sa.String(20), nullable=False),
    sa.Column("return_type", sa.String(20), nullable=True),
    sa.Column("arguments", JSONType, nullable=False),
    sa.Column("rest_enabled", sa.Boolean, nullable=False),
    sa.Column("rest_auth", sa.String(10), nullable=False),
    sa.Column("timeout_s", sa.Float, nullable=True),
    sa.Column("settings", JSONType, nullable=False),
    sa.Column("live_version", sa.Integer, nullable=True),
    sa.Column("latest_version", sa.Integer, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("modified_time", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=True),
    sa.Column("modified_by", sa.String(200), nullable=True),
    sa.UniqueConstraint("org_id", "api_key", name="uq_functions_org_api_key"),
)

function_versions = sa.Table(
    "function_versions",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column(
        "function_id",
        sa.BigInteger,
        sa.ForeignKey("functions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("author", sa.String(200), nullable=True),
    sa.Column("status", sa.String(10), nullable=False),  # draft | published
    sa.Column("category", sa.String(20), nullable=False),
    sa.Column("return_type", sa.String(20), nullable=True),
    sa.Column("arguments", JSONType, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("published_time", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("function_id", "number", name="uq_function_versions_number"),
)

executions = sa.Table(
    "executions",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column("function_id", sa.BigInteger, nullable=True),
    sa.Column("function", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("trigger_type", sa.String(20), nullable=False),
    sa.Column("trigger", JSONType, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("caller", sa.String(20), nullable=False),  # user | system
    sa.Column("run_as", sa.BigInteger, nullable=True),
    sa.Column("arguments", JSONType, nullable=False),
    sa.Column("output", JSONType, nullable=True),
    sa.Column("output_text", sa.Text, nullable=True),
    sa.Column("output_truncated", sa.Boolean, nullable=False),
    sa.Column("info", JSONType, nullable=False),
    sa.Column("error", JSONType, nullable=True),
    sa.Column("notes", JSONType, nullable=False),
    sa.Column("statements", sa.Integer, nullable=False),
    sa.Column("http_calls", JSONType, nullable=False),
    sa.Column("emails", JSONType, nullable=False),
    sa.Column("records", JSONType, nullable=False),
    sa.Column("client_actions", JSONType, nullable=False),
    sa.Column("started_time", sa.BigInteger, nullable=False),
    sa.Column("finished_time", sa.BigInteger, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("rerun_of", sa.BigInteger, nullable=True),
    sa.Column("chain_id", sa.BigInteger, nullable=True),
    sa.Column("chain_depth", sa.Integer, nullable=False),
    sa.Column("node", sa.String(100), nullable=True),
    sa.Index("ix_executions_org_id", "org_id", "id"),
    sa.Index("ix_executions_function", "org_id", "function", "id"),
    sa.Index("ix_executions_status", "org_id", "status", "id"),
    sa.Index("ix_executions_started", "started_time"),
)

# Upper bounds (ms) of the duration histogram kept per hour, function and status; a duration
# falls in the first bucket whose bound exceeds it, the last bucket is open-ended. Dashboard
# percentiles are approximate to these buckets (web/execution_queries.py).
DURATION_BOUNDS_MS: tuple[float, ...] = (
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000
)  # fmt: skip
HISTOGRAM_COLUMNS: tuple[str, ...] = tuple(f"h{i}" for i in range(len(DURATION_BOUNDS_MS) + 1))

# Hourly counters of finished executions (console-ux.md §7: the dashboard reads these, never the
# executions). Maintained by database triggers on ``executions`` (migration 0008), so every
# write of a final status counts, whichever code path makes it: inserts of finished rows, the
# ``running`` row's final update, ``interrupted`` and ``mark_failure`` (which moves a run from
# one status to another). Deleting executions leaves the counters; the purge drops old hours.
execution_hourly = sa.Table(
    "execution_hourly",
    metadata,
    sa.Column("org_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),  # started // 1 h
    sa.Column("function", sa.String(100), primary_key=True),
    sa.Column("status", sa.String(10), primary_key=True),  # success | failure | skipped
    sa.Column("runs", sa.BigInteger, nullable=False),
    sa.Column("duration_total", sa.Float, nullable=False),
    sa.Column("duration_max", sa.Float, nullable=False),
    sa.Column("statements_total", sa.BigInteger, nullable=False),
    sa.Column("statements_max", sa.BigInteger, nullable=False),
    *(sa.Column(c, sa.BigInteger, nullable=False) for c in HISTOGRAM_COLUMNS),
)

outbox_mail = sa.Table(
    "outbox_mail",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column("execution_id", sa.BigInteger, nullable=True),
    sa.Column("status", sa.String(10), nullable=False),  # pending | sent | failed
    sa.Column("sender", sa.String(320), nullable=False),
    sa.Column("recipients", JSONType, nullable=False),  # {"to","cc","bcc","reply_to"}
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("attachments", JSONType, nullable=False),  # [{"name","content_type","content_b64"}]
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_time", sa.BigInteger, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("sent_time", sa.BigInteger, nullable=True),
    sa.Index("ix_outbox_mail_due", "status", "next_attempt_time"),
    sa.Index("ix_outbox_mail_execution", "execution_id"),
)

quota_counters = sa.Table(
    "quota_counters",
    metadata,
    sa.Column("org_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),  # UTC yyyy-mm-dd
    sa.Column("used", sa.BigInteger, nullable=False),
)

org_variables = sa.Table(
    "org_variables",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("name_key", sa.String(100), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("modified_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("org_id", "name_key", name="uq_org_variables_name"),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("name_key", sa.String(100), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("config", JSONType, nullable=False),  # everything but secrets
    sa.Column("secrets", JSONType, nullable=False),  # field -> keyring envelope
    sa.Column("fingerprint", sa.String(80), nullable=True),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("modified_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("org_id", "name_key", name="uq_connections_name"),
)

record_attachments = sa.Table(
    "record_attachments",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column(
        "record_id",
        sa.BigInteger,
        sa.ForeignKey("records.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("module", sa.String(100), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(200), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("owner_id", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.BigInteger, nullable=False),
    sa.Column("modified_by", sa.BigInteger, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("modified_time", sa.BigInteger, nullable=False),
    sa.Index("ix_record_attachments_record", "record_id", "id"),
)
