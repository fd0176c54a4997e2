"""Test support: a fresh CRM database on SQLite or PostgreSQL, for this and other test suites.

PostgreSQL tests use ``FLOODWAY_TEST_DATABASE_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``): each use creates a database with a
random name on that server and drops it afterwards. An unreachable server is an error, never a
skip, so CI cannot pass without having run them.

Fixtures (import them into a test module: ``from floodway.crm.testing import crm, fresh_crm``):
``crm`` is one bootstrapped ``Crm`` per test module and backend (tests share it, so they use
their own records); ``fresh_crm`` is a new database per test.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from floodway.db import create_engine_for, ensure_schema

from .service import Actor, Crm

DEFAULT_TEST_DATABASE_URL: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS: Final = ("sqlite", "postgresql")


def postgres_test_url() -> str:
    return os.environ.get("FLOODWAY_TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)


@contextmanager
def temporary_postgres_database() -> Iterator[str]:
    """Create a uniquely named database on the test server; drop it afterwards."""
    base = make_url(postgres_test_url())
    name = f"floodway_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", pool_pre_ping=False)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise RuntimeError(
            f"PostgreSQL test server {base.render_as_string(hide_password=True)} is not "
            f"reachable; start it (scripts/test.sh does): {exc.orig}"
        ) from exc
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def crm_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """A database URL for ``backend`` that exists for the duration of the block."""
    if backend == "postgresql":
        with temporary_postgres_database() as url:
            yield url
    else:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{tmp_dir / 'floodway.db'}"


@contextmanager
def open_test_crm(backend: str, tmp_dir: Path, **kw: Any) -> Iterator[Crm]:
    with crm_database(backend, tmp_dir) as url:
        engine = create_engine_for(database_url=url)
        try:
            ensure_schema(engine)
            crm = Crm(engine, **kw)
            result = crm.bootstrap()
            crm.test_admin_password = result.admin_password  # type: ignore[attr-defined]
            yield crm
        finally:
            engine.dispose()


def admin_actor(crm: Crm, channel: str = "api") -> Actor:
    assert crm.primary_admin_id is not None
    return Actor(crm.primary_admin_id, channel)


@pytest.fixture(scope="module", params=BACKENDS)
def crm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    with open_test_crm(request.param, tmp_path_factory.mktemp("crm")) as c:
        yield c


@pytest.fixture(params=BACKENDS)
def fresh_crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Crm]:
    with open_test_crm(request.param, tmp_path / "crm") as c:
        yield c
