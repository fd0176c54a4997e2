# ruff: noqa: F811  (the crm fixture imported from floodway.crm.testing is a parameter name)
"""Fixtures of the console tests: an app around a CRM (SQLite and PostgreSQL), users with known
passwords, and signed-in HTTP clients that carry the session's CSRF token."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from floodway.crm.testing import crm  # noqa: F401  (module-scoped CRM per backend)

warnings.filterwarnings("ignore", message=".*httpx2.*")

PASSWORD = "correct horse battery"
ADMIN = "alice@example.test"
STANDARD = "sam@example.test"
NO_DEALS = "nina@example.test"
BASE = "http://127.0.0.1"


def _no_deals_profile(crm: Any) -> None:
    """A profile that may not open Deals (profiles have no service call to create them yet)."""
    from floodway.crm import schema as t
    from floodway.db import write_transaction

    if crm.users.profile_named("NoDeals") is not None:
        return
    rights = {
        "modules": {"*": ["read", "create", "edit", "delete"], "Deals": []},
        "permissions": [],
    }
    with write_transaction(crm.engine) as conn:
        conn.execute(
            t.profiles.insert().values(
                id=crm.ids.next_id(),
                org_id=crm.org_id,
                name="NoDeals",
                rights=rights,
                created_time=crm.now_ms(),
            )
        )


@pytest.fixture(scope="module")
def app(crm: Any) -> Any:
    from floodway.api.app import create_app
    from floodway.settings import Settings

    _no_deals_profile(crm)
    for email, name, profile in (
        (ADMIN, "Alice", "Administrator"),
        (STANDARD, "Sam", "Standard"),
        (NO_DEALS, "Nina", "NoDeals"),
    ):
        if crm.users.by_email(email) is None:
            crm.users.create(email, last_name=name, profile=profile, password=PASSWORD)
    return create_app(crm, Settings())


def clear_throttle(app: Any) -> None:
    from floodway.web import schema

    with app.state.crm.engine.begin() as conn:
        conn.execute(sa.delete(schema.console_login_failures))


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


class Console:
    """A browser-like client: keeps cookies, knows the current CSRF token."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def get(self, url: str, **kw: Any) -> Any:
        r = self.client.get(url, **kw)
        if 'name="csrf_token"' in r.text:
            self.csrf = csrf_of(r.text)
        return r

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        body = {"csrf_token": self.csrf, **(data or {})}
        return self.client.post(url, data=body, **kw)

    def login(self, email: str, password: str = PASSWORD) -> Any:
        page = self.client.get("/login")
        token = csrf_of(page.text)
        r = self.client.post(
            "/login",
            data={"csrf_token": token, "email": email, "password": password},
            follow_redirects=False,
        )
        if r.status_code == 303:
            self.get("/")
        return r


def open_console(app: Any, email: str | None) -> Iterator[Console]:
    clear_throttle(app)
    with TestClient(app, base_url=BASE) as client:
        console = Console(client)
        if email is not None:
            r = console.login(email)
            assert r.status_code == 303, r.text
        yield console


@pytest.fixture
def anon(app: Any) -> Iterator[Console]:
    yield from open_console(app, None)


@pytest.fixture
def admin(app: Any) -> Iterator[Console]:
    yield from open_console(app, ADMIN)


@pytest.fixture
def standard(app: Any) -> Iterator[Console]:
    yield from open_console(app, STANDARD)


@pytest.fixture
def no_deals(app: Any) -> Iterator[Console]:
    yield from open_console(app, NO_DEALS)
