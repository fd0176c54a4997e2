"""Alembic migrations of the floodway database (run by ``floodway.db.ensure_schema``)."""
