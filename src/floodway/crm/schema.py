"""The CRM tables (SQLAlchemy Core), one definition for SQLite and PostgreSQL.

The migrations in ``floodway/migrations/versions`` create exactly these tables; this module is
what the services query. Conventions (docs/crm-data-model.md):

- ids are BIGINT snowflakes (``crm.ids``) shown as 19-digit strings;
- times are BIGINT milliseconds since the Unix epoch (UTC), portable and cheap to compare;
- a record's field values live in one JSON column (JSONB on PostgreSQL) keyed by API name;
  system fields (owner, creator, times) and the record's display name are real columns;
- credentials floodway issues are stored as SHA-256 digests only (security.md AUTH-1).
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

JSONType: Final = sa.JSON().with_variant(JSONB(), "postgresql")

metadata = sa.MetaData()

orgs = sa.Table(
    "orgs",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("zgid", sa.String(40), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("primary_email", sa.String(320), nullable=True),
    sa.Column("primary_admin_id", sa.BigInteger, nullable=True),
    sa.Column("meta_version", sa.BigInteger, nullable=False),
    sa.Column("node_counter", sa.BigInteger, nullable=False),
    sa.Column("signing_key", sa.String(128), nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("rights", JSONType, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("org_id", "name", name="uq_profiles_org_name"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("first_name", sa.String(100), nullable=True),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("profile_id", sa.BigInteger, sa.ForeignKey("profiles.id"), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("locale", sa.String(20), nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("modified_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("org_id", "email", name="uq_users_org_email"),
)

modules = sa.Table(
    "modules",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("api_name", sa.String(100), nullable=False),
    sa.Column("singular_label", sa.String(100), nullable=False),
    sa.Column("plural_label", sa.String(100), nullable=False),
    sa.Column("name_field", sa.String(100), nullable=False),
    sa.Column("custom", sa.Boolean, nullable=False),
    sa.Column("sequence_number", sa.Integer, nullable=False),
    sa.Column("duplicate_fields", JSONType, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("org_id", "api_name", name="uq_modules_org_api_name"),
)

fields = sa.Table(
    "fields",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("module_id", sa.BigInteger, sa.ForeignKey("modules.id"), nullable=False),
    sa.Column("api_name", sa.String(100), nullable=False),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("mandatory", sa.Boolean, nullable=False),
    sa.Column("is_unique", sa.Boolean, nullable=False),
    sa.Column("read_only", sa.Boolean, nullable=False),
    sa.Column("custom", sa.Boolean, nullable=False),
    sa.Column("length", sa.Integer, nullable=True),
    sa.Column("options", JSONType, nullable=False),
    sa.Column("sequence_number", sa.Integer, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("module_id", "api_name", name="uq_fields_module_api_name"),
)

records = sa.Table(
    "records",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column("module_id", sa.BigInteger, sa.ForeignKey("modules.id"), nullable=False),
    sa.Column("name", sa.String(400), nullable=True),
    sa.Column("data", JSONType, nullable=False),
    sa.Column("owner_id", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.BigInteger, nullable=False),
    sa.Column("modified_by", sa.BigInteger, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("modified_time", sa.BigInteger, nullable=False),
    sa.Index("ix_records_module_id", "module_id", "id"),
    sa.Index("ix_records_module_modified", "module_id", "modified_time"),
    sa.Index("ix_records_owner", "owner_id"),
)

# One row per filled lookup of a record (Account_Name, What_Id, Parent_Id, …): related lists,
# cascades and "who points at this record" without scanning JSON.
record_refs = sa.Table(
    "record_refs",
    metadata,
    sa.Column(
        "record_id",
        sa.BigInteger,
        sa.ForeignKey("records.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("field_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("target_id", sa.BigInteger, nullable=False),
    sa.Index("ix_record_refs_target", "target_id", "field_id"),
)

record_events = sa.Table(
    "record_events",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column("module", sa.String(100), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("workflow", sa.Boolean, nullable=False),
    sa.Column("changed", JSONType, nullable=False),
    sa.Column("old", JSONType, nullable=True),
    sa.Column("new", JSONType, nullable=True),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Index("ix_record_events_record", "record_id"),
)

oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False, unique=True),
    sa.Column("secret_digest", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("revoked_time", sa.BigInteger, nullable=True),
)

# Access and refresh tokens; ``parent_id`` links an access token to its refresh token.
oauth_tokens = sa.Table(
    "oauth_tokens",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("client_pk", sa.BigInteger, sa.ForeignKey("oauth_clients.id"), nullable=False),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("parent_id", sa.BigInteger, nullable=True),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("expires_time", sa.BigInteger, nullable=True),
    sa.Column("revoked_time", sa.BigInteger, nullable=True),
    sa.Index("ix_oauth_tokens_parent", "parent_id"),
    sa.Index("ix_oauth_tokens_user", "user_id"),
)

oauth_grant_codes = sa.Table(
    "oauth_grant_codes",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("client_pk", sa.BigInteger, sa.ForeignKey("oauth_clients.id"), nullable=False),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("expires_time", sa.BigInteger, nullable=False),
    sa.Column("used_time", sa.BigInteger, nullable=True),
)

org_api_keys = sa.Table(
    "org_api_keys",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    # An encrypted display copy (security.md SEC-1/SEC-4), set by a caller that holds the key.
    sa.Column("sealed", sa.Text, nullable=True),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("revoked_time", sa.BigInteger, nullable=True),
)
