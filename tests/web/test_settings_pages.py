"""Settings pages on SQLite and PostgreSQL: users (create with a one-time password, set password,
deactivate with the refusals, activate), profiles, OAuth self clients shown once, API key
rotation, SMTP status, org time zone and currency with field errors, and rights per section."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from .automation_app import WORKFLOW_ADMIN, build_app
from .conftest import ADMIN, PASSWORD, Console, open_console


@pytest.fixture(scope="module")
def app(crm: Any) -> Iterator[Any]:
    yield from build_app(crm)


@pytest.fixture
def wanda(app: Any) -> Iterator[Console]:
    yield from open_console(app, WORKFLOW_ADMIN)


def test_add_user_with_one_time_password(app: Any, admin: Console) -> None:
    crm = app.state.crm
    email = f"new-{secrets.token_hex(3)}@example.test"
    admin.get("/settings/users")
    bad = admin.post("/settings/users", {"email": "not-an-email", "last_name": "Kim"})
    assert bad.status_code == 422 and 'id="f-email-error"' in bad.text
    assert 'value="Kim"' in bad.text
    r = admin.post(
        "/settings/users",
        {"email": email, "first_name": "Kai", "last_name": "Kim", "profile": "Standard"},
    )
    assert r.status_code == 200
    shown = re.search(r'id="one-time-password">([^<]+)<', r.text)
    assert shown is not None
    assert crm.users.verify_password(email, shown.group(1)) is not None
    assert "one-time-password" not in admin.get("/settings/users").text
    dup = admin.post("/settings/users", {"email": email, "last_name": "Kim"})
    assert dup.status_code == 422 and "already exists" in dup.text


def test_password_deactivate_activate(app: Any, admin: Console) -> None:
    crm = app.state.crm
    email = f"p-{secrets.token_hex(3)}@example.test"
    user, _ = crm.users.create(email, last_name="Pat", password=PASSWORD)
    admin.get("/settings/users")
    weak = admin.post(f"/settings/users/{user.id}/password", {"password": "x"})
    assert weak.status_code == 422 and f'id="f-{user.id}-password-error"' in weak.text
    admin.post(f"/settings/users/{user.id}/password", {"password": "another long passphrase"})
    assert crm.users.verify_password(email, "another long passphrase") is not None
    r = admin.post(f"/settings/users/{user.id}/deactivate", follow_redirects=False)
    assert r.status_code == 303 and not crm.users.get(user.id).active
    admin.post(f"/settings/users/{user.id}/activate")
    assert crm.users.get(user.id).active
    me = crm.users.by_email(ADMIN)
    refused = admin.post(f"/settings/users/{me.id}/deactivate")
    assert refused.status_code == 409 and "cannot deactivate yourself" in refused.text
    assert crm.users.get(me.id).active
    assert admin.post("/settings/users/123/deactivate").status_code == 404


def test_profiles_clients_api_key_smtp(app: Any, admin: Console) -> None:
    page = admin.get("/settings/profiles")
    assert "Administrator" in page.text and "manage workflow" in page.text
    admin.get("/settings/oauth-clients")
    assert admin.post("/settings/oauth-clients", {"name": ""}).status_code == 422
    made = admin.post("/settings/oauth-clients", {"name": "Reporting"})
    secret = re.search(r'id="made-secret">([^<]+)<', made.text)
    assert secret is not None
    listed = admin.get("/settings/oauth-clients")
    assert "Reporting" in listed.text and secret.group(1) not in listed.text

    admin.get("/settings/api-key")
    assert admin.post("/settings/api-key", {}).status_code == 422
    rotated = admin.post("/settings/api-key", {"confirm": "on"})
    key = re.search(r'id="new-key">([^<]+)<', rotated.text)
    assert key is not None and app.state.crm.oauth.check_api_key(key.group(1)) is not None
    assert key.group(1) not in admin.get("/settings/api-key").text
    smtp = admin.get("/settings/smtp")
    assert 'id="smtp-unset"' in smtp.text


def test_org_time_zone_and_currency(app: Any, admin: Console) -> None:
    crm = app.state.crm
    admin.get("/settings/org")
    bad = admin.post("/settings/org", {"time_zone": "Mars/Olympus", "currency": "euro"})
    assert bad.status_code == 422
    assert 'id="f-time_zone-error"' in bad.text and 'id="f-currency-error"' in bad.text
    assert 'value="Mars/Olympus"' in bad.text
    ok = admin.post(
        "/settings/org", {"time_zone": "Europe/Berlin", "currency": "eur"}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert crm.org_json()["time_zone"] == "Europe/Berlin" and crm.org_json()["iso_code"] == "EUR"
    assert crm.time_zone_name == "Europe/Berlin"
    assert "Times in Europe/Berlin" in admin.get("/settings/org").text
    admin.post("/settings/org", {"time_zone": "UTC", "currency": "USD"})


def test_settings_rights(app: Any, standard: Console, wanda: Console) -> None:
    assert standard.get("/settings").status_code == 403
    for section in ("org", "users", "profiles", "oauth-clients", "api-key", "smtp"):
        r = wanda.get(f"/settings/{section}")
        assert r.status_code == 403 and "cannot open Settings" in r.text
    assert standard.post("/settings/users", {"email": "x@y.z", "last_name": "X"}).status_code == 403


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


def test_send_test_email_to_me(app: Any, admin: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    from ..smtp_loopback import LoopbackController

    admin.get("/settings/smtp")
    unset = admin.post("/settings/smtp/test", {})
    assert unset.status_code == 409 and 'id="smtp-unset"' in unset.text

    inbox = _Inbox()
    server = LoopbackController(inbox, hostname="127.0.0.1", port=0)
    server.start()
    try:
        port = server.port
        settings = app.state.settings
        monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
        monkeypatch.setattr(settings, "smtp_port", port)
        monkeypatch.setattr(settings, "smtp_starttls", False)
        monkeypatch.setattr(settings, "smtp_from", "floodway@example.test")
        page = admin.get("/settings/smtp")
        assert 'id="smtp-test"' in page.text and ADMIN in page.text
        sent = admin.post("/settings/smtp/test", {})
        assert sent.status_code == 200
        result = sent.text.split('id="smtp-test-result"')[1].split("</p>")[0]
        assert f"Sent to {ADMIN}" in result and "accepted for 1 recipient" in result
        (envelope,) = inbox.messages
        assert envelope.rcpt_tos == [ADMIN] and envelope.mail_from == "floodway@example.test"
        assert b"Subject: floodway test message" in envelope.original_content

        monkeypatch.setattr(settings, "smtp_from", None)  # no sender: said, nothing sent
        refused = admin.post("/settings/smtp/test", {})
        result = refused.text.split('id="smtp-test-result"')[1].split("</p>")[0]
        assert "Not sent:" in result and "from" in result and len(inbox.messages) == 1
    finally:
        server.stop()
