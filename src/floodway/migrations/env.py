"""Alembic environment: always driven programmatically by ``floodway.db.ensure_schema``.

The caller passes an open connection in ``config.attributes["connection"]``; there is no
alembic.ini and no offline mode (``floodway migrate`` is the command line).
"""

from __future__ import annotations

from alembic import context

from floodway.crm.schema import metadata
from floodway.jobs.schema import metadata as jobs_metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable through the alembic CLI
    raise RuntimeError("floodway migrations run through 'floodway migrate' only")

context.configure(
    connection=connection,
    target_metadata=[metadata, jobs_metadata],
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
