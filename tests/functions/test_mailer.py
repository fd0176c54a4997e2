"""Outbox delivery against a real aiosmtpd server on 127.0.0.1 (§8.5, NET-11)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from floodway.deluge.host import Mail
from floodway.deluge.values import File
from floodway.functions.mailer import (
    RETRY_DELAYS_S,
    DeliveryResult,
    InvalidMail,
    SmtpSettings,
    build_message,
    deliver,
    next_retry_delay,
    validate_mail,
)

from ..smtp_loopback import LoopbackController

SMTP_PASSWORD = "smtp-pw-0123456789"


class Recorder:
    """aiosmtpd handler: records EHLOs and messages; some addresses get scripted replies."""

    def __init__(self) -> None:
        self.ehlos = 0
        self.auths: list[tuple[bytes, bytes]] = []
        self.envelopes: list[Envelope] = []
        self.data_reply: str | None = None

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.ehlos += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("reject5"):
            return "550 5.1.1 no such user"
        if address.startswith("reject4"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticator(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.auths.append((auth_data.login, auth_data.password))
        ok = auth_data.login == b"mailer" and auth_data.password == SMTP_PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # handled=True means "I replied"


def start_server(handler: Recorder, **kwargs: Any) -> LoopbackController:
    controller = LoopbackController(
        handler, hostname="127.0.0.1", port=0, server_hostname="mx.test", **kwargs
    )
    controller.start()
    return controller


@pytest.fixture
def smtpd() -> Iterator[tuple[Recorder, LoopbackController]]:
    handler = Recorder()
    controller = start_server(handler)
    yield handler, controller
    controller.stop()


def settings_for(controller: LoopbackController, **kw: Any) -> SmtpSettings:
    base: dict[str, Any] = {"starttls": False, "timeout_s": 5.0, "local_hostname": "client.test"}
    base.update(kw)
    return SmtpSettings(host="127.0.0.1", port=controller.port, **base)


def sample_mail(**kw: Any) -> Mail:
    values: dict[str, Any] = {
        "sender": "Ann Admin <ann@org.test>",
        "to": ["bob@example.test", "Carol <carol@example.test>"],
        "subject": "Quarterly report – Grüße",
        "message": "<p>Hello <b>team</b></p>",
        "cc": ["dave@example.test"],
        "bcc": ["hidden@example.test"],
        "reply_to": ["replies@org.test"],
        "content_type": "text/html",
        "attachments": [
            File("report.csv", b"a,b\n1,2\n", "text/csv"),
            File("logo.png", bytes(range(256)) * 4, "image/png"),
        ],
    }
    values.update(kw)
    return Mail(**values)


def parse(envelope: Envelope) -> EmailMessage:
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


# -- delivery --------------------------------------------------------------------------------------


def test_delivers_a_proper_mime_message(smtpd: tuple[Recorder, LoopbackController]) -> None:
    handler, controller = smtpd
    result = deliver(sample_mail(), settings_for(controller))
    assert result.ok and not result.retryable, result
    assert result.status == "sent" and result.smtp_code == 250
    assert len(handler.envelopes) == 1
    envelope = handler.envelopes[0]
    assert envelope.mail_from == "ann@org.test"
    assert envelope.rcpt_tos == [
        "bob@example.test",
        "carol@example.test",
        "dave@example.test",
        "hidden@example.test",
    ]
    msg = parse(envelope)
    assert msg["From"] == "Ann Admin <ann@org.test>"
    assert msg["To"] == "bob@example.test, Carol <carol@example.test>"
    assert msg["Cc"] == "dave@example.test"
    assert msg["Reply-To"] == "replies@org.test"
    assert msg["Subject"] == "Quarterly report – Grüße"
    assert msg["Message-ID"] == result.message_id and msg["Message-ID"].endswith("@org.test>")
    assert msg["Date"]
    # Bcc goes only into the envelope.
    assert msg["Bcc"] is None
    assert b"hidden@example.test" not in envelope.content  # type: ignore[operator]
    body = msg.get_body(("html", "plain"))
    assert body is not None and body.get_content_type() == "text/html"
    assert body.get_content().strip() == "<p>Hello <b>team</b></p>"
    attachments = list(msg.iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [
        ("report.csv", "text/csv"),
        ("logo.png", "image/png"),
    ]
    assert attachments[0].get_payload(decode=True) == b"a,b\n1,2\n"
    assert attachments[1].get_payload(decode=True) == bytes(range(256)) * 4
    assert handler.ehlos == 1


def test_plain_text_and_from_default(smtpd: tuple[Recorder, LoopbackController]) -> None:
    handler, controller = smtpd
    mail = Mail(
        sender="",
        to=["bob@example.test"],
        subject="Hi",
        message="line 1\nline 2",
        content_type="text/plain",
    )
    result = deliver(mail, settings_for(controller, from_default="crm@org.test"))
    assert result.ok, result
    msg = parse(handler.envelopes[0])
    assert msg["From"] == "crm@org.test"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().replace("\r\n", "\n").strip() == "line 1\nline 2"
    assert list(msg.iter_attachments()) == []


def test_partial_refusal_is_sent_with_the_refused_listed(
    smtpd: tuple[Recorder, LoopbackController],
) -> None:
    handler, controller = smtpd
    mail = sample_mail(to=["bob@example.test", "reject5@example.test"], cc=[], bcc=[])
    result = deliver(mail, settings_for(controller))
    assert result.ok
    assert list(result.refused) == ["reject5@example.test"]
    assert result.refused["reject5@example.test"][0] == 550
    assert handler.envelopes[0].rcpt_tos == ["bob@example.test"]


@pytest.mark.parametrize(
    ("recipient", "status", "code"),
    [("reject5@example.test", "failed", 550), ("reject4@example.test", "retry", 451)],
)
def test_all_recipients_refused(
    smtpd: tuple[Recorder, LoopbackController], recipient: str, status: str, code: int
) -> None:
    handler, controller = smtpd
    result = deliver(sample_mail(to=[recipient], cc=[], bcc=[]), settings_for(controller))
    assert (result.status, result.smtp_code) == (status, code)
    assert "all recipients refused" in result.message
    assert handler.envelopes == []


@pytest.mark.parametrize(
    ("reply", "status"),
    [("554 5.7.1 rejected as spam", "failed"), ("452 4.3.1 insufficient storage", "retry")],
)
def test_data_replies_are_classified(
    smtpd: tuple[Recorder, LoopbackController], reply: str, status: str
) -> None:
    handler, controller = smtpd
    handler.data_reply = reply
    result = deliver(sample_mail(), settings_for(controller))
    assert result.status == status
    assert result.smtp_code == int(reply[:3])
    assert reply[4:] in result.message


# -- header injection (NET-11) ----------------------------------------------------------------------


class AcceptCounter:
    """A bare TCP listener that counts connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.accepts = 0
        self.hold: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepts += 1
            self.hold.append(conn)  # never answer: a server that hangs

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self.hold:
            conn.close()
        self.sock.close()


INJECTIONS: list[dict[str, Any]] = [
    {"subject": "Hello\r\nBcc: victim@evil.test"},
    {"subject": "Hello\nX-Injected: 1"},
    {"subject": "Hello\rX-Injected: 1"},
    {"to": ["bob@example.test\r\nBcc: victim@evil.test"]},
    {"cc": ["dave@example.test\nBcc: victim@evil.test"]},
    {"bcc": ["hidden@example.test\r\nX: 1"]},
    {"reply_to": ["replies@org.test\r\nX: 1"]},
    {"sender": "ann@org.test\r\nBcc: victim@evil.test"},
    {"attachments": [File("a.txt\r\nX-Injected: 1", b"x", "text/plain")]},
    {"attachments": [File("a.txt", b"x", "text/plain\r\nX-Injected: 1")]},
    {"content_type": "text/html\r\nX-Injected: 1"},
    {"subject": "nul\0byte"},
]


@pytest.mark.parametrize("change", INJECTIONS)
def test_net11_crlf_in_headers_is_refused_before_connecting(
    smtpd: tuple[Recorder, LoopbackController], change: dict[str, Any]
) -> None:
    handler, controller = smtpd
    mail = sample_mail(**change)
    with pytest.raises(InvalidMail, match="line breaks are not allowed"):
        validate_mail(mail)
    result = deliver(mail, settings_for(controller))
    assert result.status == "failed" and not result.retryable
    assert "line breaks are not allowed" in result.message
    assert handler.ehlos == 0 and handler.envelopes == []
    counter = AcceptCounter()
    try:
        again = deliver(mail, SmtpSettings(host="127.0.0.1", port=counter.port, starttls=False))
    finally:
        counter.close()
    assert again.status == "failed"
    assert counter.accepts == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"to": [], "cc": [], "bcc": []}, "at least one recipient"),
        ({"to": ["not-an-address"]}, "invalid e-mail address"),
        ({"to": ["a@b@c.test"]}, "invalid e-mail address"),
        ({"sender": ""}, "one 'from' address is required"),
        ({"sender": "a@x.test, b@x.test"}, "one 'from' address is required"),
    ],
)
def test_invalid_mail_is_final(
    smtpd: tuple[Recorder, LoopbackController], change: dict[str, Any], message: str
) -> None:
    handler, controller = smtpd
    result = deliver(sample_mail(**change), settings_for(controller))
    assert result.status == "failed" and message in result.message
    assert handler.ehlos == 0


def test_comma_separated_recipients_in_one_entry() -> None:
    msg = build_message(sample_mail(to=["a@x.test, b@x.test"], cc=[], bcc=[], reply_to=[]))
    assert msg["To"] == "a@x.test, b@x.test"


# -- failures of the server ------------------------------------------------------------------------


def test_stopped_server_is_retryable() -> None:
    handler = Recorder()
    controller = start_server(handler)
    port = controller.port
    controller.stop()
    result = deliver(sample_mail(), SmtpSettings(host="127.0.0.1", port=port, starttls=False))
    assert result.retryable and not result.ok
    assert result.message == f"SMTP 127.0.0.1:{port}: connection refused"


def test_silent_server_times_out_retryably() -> None:
    counter = AcceptCounter()
    try:
        started = dt.datetime.now()
        result = deliver(
            sample_mail(),
            SmtpSettings(host="127.0.0.1", port=counter.port, starttls=False, timeout_s=0.5),
        )
        elapsed = (dt.datetime.now() - started).total_seconds()
    finally:
        counter.close()
    assert result.retryable and "timed out" in result.message
    assert elapsed < 3


def test_retry_schedule() -> None:
    assert [next_retry_delay(n) for n in range(6)] == [None, 60, 300, 1800, 7200, None]
    assert RETRY_DELAYS_S == (60.0, 300.0, 1800.0, 7200.0)


# -- STARTTLS and AUTH ---------------------------------------------------------------------------


def _self_signed() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def tls_smtpd(tmp_path: Any) -> Iterator[tuple[Recorder, LoopbackController, ssl.SSLContext]]:
    cert_pem, key_pem = _self_signed()
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    handler = Recorder()
    controller = start_server(
        handler,
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=handler.authenticator,
        auth_required=True,
    )
    client_ctx = ssl.create_default_context(cadata=cert_pem.decode())
    yield handler, controller, client_ctx
    controller.stop()


def test_starttls_and_auth(
    tls_smtpd: tuple[Recorder, LoopbackController, ssl.SSLContext],
) -> None:
    handler, controller, client_ctx = tls_smtpd
    smtp = settings_for(
        controller,
        starttls=True,
        username="mailer",
        password=SMTP_PASSWORD,
        ssl_context=client_ctx,
    )
    assert SMTP_PASSWORD not in repr(smtp)
    result = deliver(sample_mail(), smtp)
    assert result.ok, result
    assert handler.auths == [(b"mailer", SMTP_PASSWORD.encode())]
    assert len(handler.envelopes) == 1

    wrong = deliver(sample_mail(), replace(smtp, password="wrong-password-1"))
    assert wrong.status == "failed" and wrong.smtp_code == 535, wrong
    assert "authentication failed" in wrong.message
    assert "wrong-password-1" not in repr(wrong)

    untrusted = deliver(sample_mail(), replace(smtp, ssl_context=None))
    assert untrusted.status == "failed"
    assert "certificate verification failed" in untrusted.message
    assert len(handler.envelopes) == 1


def test_starttls_required_but_not_offered(smtpd: tuple[Recorder, LoopbackController]) -> None:
    handler, controller = smtpd
    result = deliver(
        sample_mail(),
        settings_for(controller, starttls=True, username="mailer", password=SMTP_PASSWORD),
    )
    assert result.status == "failed"
    assert "does not offer STARTTLS" in result.message
    assert SMTP_PASSWORD not in result.message
    assert handler.envelopes == []


def test_delivery_result_flags() -> None:
    assert DeliveryResult("sent", "x").ok
    assert DeliveryResult("retry", "x").retryable
    failed = DeliveryResult("failed", "x")
    assert not failed.ok and not failed.retryable
