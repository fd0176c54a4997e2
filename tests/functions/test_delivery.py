"""sendmail end to end: a function queues mail, the delivery loop sends it to a real SMTP
server on 127.0.0.1 (aiosmtpd), temporary failures are retried later (functions-platform §8.5)."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.smtp import Envelope

from floodway.crm.testing import fresh_crm  # noqa: F401  (fixture)
from floodway.functions.delivery import DeliveryLoop, deliver_pending
from floodway.functions.mailer import SmtpSettings
from floodway.functions.service import Functions

from ..smtp_loopback import LoopbackController


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtpd() -> Iterator[tuple[Inbox, LoopbackController]]:
    inbox = Inbox()
    controller = LoopbackController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    yield inbox, controller
    controller.stop()


def queue_mail(fx: Functions, to: str) -> str:
    api = "mail_" + secrets.token_hex(4)
    source = f"""void standalone.{api}()
{{
    sendmail
    [
        from: zoho.adminuserid
        to: "{to}"
        subject: "Deal won"
        message: "<p>Amount: " + 12500.0 + "</p>"
    ]
}}
"""
    fx.registry.save(api, source, create=True, publish=True)
    result = fx.run(api)
    assert result.status == "success"
    return str(fx.executions.get(result.id)["emails"][0]["outbox_id"])


def test_queued_mail_reaches_the_smtp_server(fresh_crm: Any, smtpd: Any) -> None:  # noqa: F811
    inbox, controller = smtpd
    fx = Functions(fresh_crm)
    outbox_id = queue_mail(fx, "ops@example.com")
    smtp = SmtpSettings(host="127.0.0.1", port=controller.port, starttls=False, timeout_s=5)
    assert deliver_pending(fx, smtp) == 1
    (envelope,) = inbox.messages
    assert envelope.rcpt_tos == ["ops@example.com"]
    body = (
        envelope.content.decode() if isinstance(envelope.content, bytes) else str(envelope.content)
    )
    assert "Subject: Deal won" in body and "Amount: 12500.0" in body
    sent = [m for m in fx.outbox.list(status="sent") if m["id"] == outbox_id]
    assert sent and sent[0]["attempts"] == 1
    assert deliver_pending(fx, smtp) == 0  # nothing is sent twice


def test_a_stopped_server_leaves_the_mail_pending_for_a_retry(fresh_crm: Any) -> None:  # noqa: F811
    with socket.socket() as probe:  # a loopback port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fx = Functions(fresh_crm)
    outbox_id = queue_mail(fx, "ops@example.com")
    smtp = SmtpSettings(host="127.0.0.1", port=port, starttls=False, timeout_s=2)
    assert deliver_pending(fx, smtp) == 0
    row = next(m for m in fx.outbox.list(status="pending") if m["id"] == outbox_id)
    assert row["attempts"] == 1 and row["last_error"] and row["next_attempt_at"] is not None
    assert outbox_id not in dict(fx.outbox.pending())  # not due again before the retry delay


def test_delivery_loop_sends_in_the_background(fresh_crm: Any, smtpd: Any) -> None:  # noqa: F811
    inbox, controller = smtpd
    fx = Functions(fresh_crm)
    queue_mail(fx, "loop@example.com")
    smtp = SmtpSettings(host="127.0.0.1", port=controller.port, starttls=False, timeout_s=5)
    loop = DeliveryLoop(fx, smtp, interval_s=0.1)
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        loop.stop()
    assert [e.rcpt_tos for e in inbox.messages] == [["loop@example.com"]]
