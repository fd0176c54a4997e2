"""Fixtures of the REST API tests: a CRM on SQLite and on PostgreSQL, an app, tokens.

PostgreSQL: each test session creates its own database next to ``FLOODWAY_TEST_PG_URL``
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and drops it at the end, so
parallel suites do not collide. Unreachable PostgreSQL fails the tests under CI (``CI=true``)
and skips them elsewhere.
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floodway.api.config import ApiConfig

# Starlette nudges towards httpx2; the TestClient works the same with httpx.
warnings.filterwarnings("ignore", message=".*httpx2.*")

PG_URL = os.environ.get("FLOODWAY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_admin_url(url: str, database: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{database}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this session; its URL."""
    import sqlalchemy as sa

    name = "floodway_api_" + secrets.token_hex(4)
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        message = f"PostgreSQL at {PG_URL} is not usable: {exc.__class__.__name__}: {exc}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    url = _pg_admin_url(PG_URL, name)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(database_url or None, data dir) for one module's CRM."""
    data = tmp_path_factory.mktemp("data")
    if request.param == "sqlite":
        return None, data
    return request.getfixturevalue("pg_database"), data


@pytest.fixture(scope="module")
def crm(backend: Any) -> Iterator[Any]:
    from floodway.crm import Crm

    url, data = backend
    if url is not None:
        _reset_pg(url)
    instance, _ = Crm.open(database_url=url, data_dir=Path(data))
    yield instance
    instance.engine.dispose()


def _reset_pg(url: str) -> None:
    """Each module starts from an empty PostgreSQL database."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def make_client(crm: Any, **config: Any) -> Any:
    from fastapi.testclient import TestClient

    from floodway.api.app import create_app

    config.setdefault("rate_limit_per_s", 0)
    return TestClient(create_app(crm, config=ApiConfig(**config)), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(crm: Any) -> Any:
    return make_client(crm)


@pytest.fixture(scope="module")
def self_client(crm: Any) -> dict[str, str]:
    return crm.oauth.create_self_client("api-tests")


@pytest.fixture(scope="module")
def token(client: Any, self_client: dict[str, str]) -> str:
    response = client.post(
        "/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": self_client["refresh_token"],
            "client_id": self_client["client_id"],
            "client_secret": self_client["client_secret"],
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture(scope="module")
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Zoho-oauthtoken {token}"}
