"""The console's own tables: login sessions and failed sign-ins (security.md AUTH-6, AUTH-7),
and each user's console preferences.

They live on their own ``MetaData`` (the console is the only part that reads them); migrations
``0006_console_sessions`` and ``0013_console_preferences`` create them, so every node finds them
in place before the first request.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata: Final = sa.MetaData()

# Server-side sessions: only the SHA-256 digest of the cookie value is stored (AUTH-1).
console_sessions: Final = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("seen_ms", sa.BigInteger, nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_console_sessions_user", "user_id"),
)

# One row per failed sign-in, counted per account and client address over 15 minutes.
console_login_failures: Final = sa.Table(
    "console_login_failures",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_id", sa.BigInteger, nullable=False),
    sa.Column("account", sa.String(320), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_console_login_failures_key", "account", "address", "created_ms"),
)

# What a user chose for themself in the console (the columns of a module's list, …), by name.
console_preferences: Final = sa.Table(
    "console_preferences",
    metadata,
    sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("value", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    sa.Column("modified_ms", sa.BigInteger, nullable=False),
)
