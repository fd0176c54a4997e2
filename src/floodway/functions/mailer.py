"""Mail delivery from the outbox over SMTP (functions-platform.md §8.5, security.md NET-11).

``sendmail`` writes a ``Mail`` to the outbox; a delivery loop hands each one to ``deliver``,
which sends it to the operator's SMTP server and says whether a failure is worth retrying.
Storage and scheduling are the caller's; ``next_retry_delay`` gives the outbox schedule.

Why it is built this way:

- Every header value (addresses, subject, attachment names and types) is checked for CR, LF
  and NUL before anything connects (NET-11): a line break in a subject taken from a record
  would otherwise add headers or recipients of the record author's choosing.
  ``validate_mail`` is the same check for ``sendmail`` itself, so a script fails at once.
- Bcc recipients go only into the SMTP envelope, never into a header.
- Mail goes only to the configured server; STARTTLS, when configured, is required (a server
  that does not offer it is a final failure, never a silent downgrade to plain text with
  the password on the wire).
- Failures are classified like webhooks (§8.5): connection errors, timeouts and 4xx replies
  are retryable; 5xx replies, bad messages and TLS verification failures are final.
- No message, log line or result carries the SMTP password.
"""

from __future__ import annotations

import email.policy
import re
import smtplib
import socket
import ssl as _ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Literal

from floodway.deluge.host import Mail

from .redact import redact

__all__ = [
    "RETRY_DELAYS_S",
    "DeliveryResult",
    "InvalidMail",
    "SmtpSettings",
    "build_message",
    "deliver",
    "next_retry_delay",
    "validate_mail",
]

# Attempts after the first: 1 min, 5 min, 30 min, 2 h (functions-platform.md §8.5).
RETRY_DELAYS_S: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0)
_REPLY_CHARS = 200
_MIME_TYPE = re.compile(r"([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*)/([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*)")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """The operator's SMTP server (settings; the password is stored encrypted, SEC-1).

    ``ssl`` is implicit TLS (port 465); otherwise ``starttls`` upgrades a plain connection and
    is then required. ``timeout_s`` bounds each connect, read and write. ``from_default`` is
    used when a mail has no sender. ``ssl_context`` replaces the system trust store (tests,
    private CAs); verification stays on.
    """

    host: str
    port: int = 587
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    from_default: str | None = None
    local_hostname: str | None = None
    ssl_context: _ssl.SSLContext | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What happened to one mail: ``sent``, ``retry`` (try again later) or ``failed`` (final).

    ``message`` is fit for the outbox record and the execution log (no secrets).
    ``refused`` lists recipients the server refused while accepting the others.
    """

    status: Literal["sent", "retry", "failed"]
    message: str
    smtp_code: int | None = None
    message_id: str | None = None
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "sent"

    @property
    def retryable(self) -> bool:
        return self.status == "retry"


class InvalidMail(ValueError):
    """The mail cannot be sent as it is (header injection, bad address); never retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def next_retry_delay(attempts: int) -> float | None:
    """Seconds to wait after ``attempts`` failed attempts, or None when they are exhausted."""
    if attempts < 1 or attempts > len(RETRY_DELAYS_S):
        return None
    return RETRY_DELAYS_S[attempts - 1]


def _no_line_breaks(what: str, value: str) -> None:
    if any(c in value for c in "\r\n\0"):
        raise InvalidMail(f"sendmail: line breaks are not allowed in {what}")


def _addresses(what: str, values: Iterable[str]) -> list[tuple[str, str]]:
    """Parse address entries (an entry may hold several, comma-separated)."""
    values = list(values)
    for value in values:
        _no_line_breaks(what, value)
    parsed: list[tuple[str, str]] = []
    for name, addr in getaddresses(values):
        if not addr and not name:
            continue
        if addr.count("@") != 1 or addr.startswith("@") or addr.endswith("@"):
            raise InvalidMail(f"sendmail: invalid e-mail address in {what}: {addr or name!r}")
        if any(c.isspace() or c in '<>,;"' for c in addr):
            raise InvalidMail(f"sendmail: invalid e-mail address in {what}: {addr!r}")
        parsed.append((name, addr))
    return parsed


def _format(pairs: list[tuple[str, str]]) -> list[Address]:
    out = []
    for name, addr in pairs:
        local, _, domain = addr.rpartition("@")
        try:
            out.append(Address(display_name=name, username=local, domain=domain))
        except (ValueError, IndexError) as exc:
            raise InvalidMail(f"sendmail: invalid e-mail address {addr!r}") from exc
    return out


def _sender(mail: Mail, from_default: str | None) -> tuple[str, str]:
    text = mail.sender or from_default or ""
    pairs = _addresses("from", [text]) if text else []
    if len(pairs) != 1:
        raise InvalidMail("sendmail: one 'from' address is required")
    return pairs[0]


def validate_mail(mail: Mail, from_default: str | None = None) -> None:
    """Raise ``InvalidMail`` for what ``deliver`` would refuse (for ``sendmail`` itself)."""
    build_message(mail, from_default)


def _envelope(mail: Mail, from_default: str | None) -> tuple[str, list[str]]:
    _, sender = _sender(mail, from_default)
    seen: dict[str, None] = {}
    for what, entries in (("to", mail.to), ("cc", mail.cc), ("bcc", mail.bcc)):
        for _, addr in _addresses(what, entries):
            seen.setdefault(addr, None)
    if not seen:
        raise InvalidMail("sendmail: at least one recipient is required")
    return sender, list(seen)


def build_message(mail: Mail, from_default: str | None = None) -> EmailMessage:
    """The MIME message for ``mail`` (no Bcc header); ``InvalidMail`` before anything else."""
    sender = _sender(mail, from_default)
    to = _addresses("to", mail.to)
    cc = _addresses("cc", mail.cc)
    bcc = _addresses("bcc", mail.bcc)
    reply_to = _addresses("reply-to", mail.reply_to)
    _no_line_breaks("subject", mail.subject)
    _no_line_breaks("content type", mail.content_type)
    if not (to or cc or bcc):
        raise InvalidMail("sendmail: at least one recipient is required")
    for f in mail.attachments:
        _no_line_breaks("attachment name", f.name)
        _no_line_breaks("attachment type", f.content_type)

    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = _format([sender])[0]
    if to:
        msg["To"] = _format(to)
    if cc:
        msg["Cc"] = _format(cc)
    if reply_to:
        msg["Reply-To"] = _format(reply_to)
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(usegmt=True)
    # The sender's domain, not socket.getfqdn(): no lookup, and the host name stays private.
    msg["Message-ID"] = make_msgid(domain=sender[1].rpartition("@")[2])
    html = "html" in mail.content_type.lower()
    msg.set_content(mail.message, subtype="html" if html else "plain")
    for f in mail.attachments:
        m = _MIME_TYPE.fullmatch(f.content_type.split(";", 1)[0].strip())
        maintype, subtype = (m.group(1), m.group(2)) if m else ("application", "octet-stream")
        msg.add_attachment(
            bytes(f.content),
            maintype=maintype.lower(),
            subtype=subtype.lower(),
            filename=f.name or "attachment",
        )
    return msg


def _reply(text: bytes | str) -> str:
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    shown = " ".join(shown.split())
    return redact(shown[:_REPLY_CHARS])


def _by_code(code: int, what: str, reply: bytes | str) -> DeliveryResult:
    status: Literal["retry", "failed"] = "failed" if 500 <= code < 600 else "retry"
    return DeliveryResult(status, f"{what}: {code} {_reply(reply)}".rstrip(), smtp_code=code)


class _StartTlsMissing(Exception):
    pass


def _connect(smtp: SmtpSettings, context: _ssl.SSLContext) -> smtplib.SMTP:
    local = smtp.local_hostname or socket.gethostname()  # no reverse lookup (getfqdn)
    if smtp.ssl:
        return smtplib.SMTP_SSL(
            smtp.host, smtp.port, local_hostname=local, timeout=smtp.timeout_s, context=context
        )
    return smtplib.SMTP(smtp.host, smtp.port, local_hostname=local, timeout=smtp.timeout_s)


def deliver(mail: Mail, smtp: SmtpSettings) -> DeliveryResult:
    """Send one mail through the configured SMTP server; never raises for delivery failures."""
    try:
        msg = build_message(mail, smtp.from_default)
        sender, recipients = _envelope(mail, smtp.from_default)
    except InvalidMail as exc:
        return DeliveryResult("failed", exc.message)
    message_id = str(msg["Message-ID"])
    context = smtp.ssl_context or _ssl.create_default_context()
    where = f"SMTP {smtp.host}:{smtp.port}"
    try:
        client = _connect(smtp, context)
        try:
            client.ehlo()
            if smtp.starttls and not smtp.ssl:
                if not client.has_extn("starttls"):
                    raise _StartTlsMissing
                client.starttls(context=context)
                client.ehlo()
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            refused = client.send_message(msg, sender, recipients)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    except _StartTlsMissing:
        return DeliveryResult("failed", f"{where}: server does not offer STARTTLS")
    except smtplib.SMTPRecipientsRefused as exc:
        codes = {a: (int(c), _reply(m)) for a, (c, m) in exc.recipients.items()}
        temporary = any(not 500 <= c < 600 for c, _ in codes.values())
        first = next(iter(codes.values()), (0, ""))
        return DeliveryResult(
            "retry" if temporary else "failed",
            f"{where}: all recipients refused: {first[0]} {first[1]}".rstrip(),
            smtp_code=first[0] or None,
            message_id=message_id,
            refused=codes,
        )
    except smtplib.SMTPAuthenticationError as exc:
        # Never the password; the reply may name the user, which is configuration, not secret.
        return _by_code(exc.smtp_code, f"{where}: authentication failed", exc.smtp_error)
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code < 400:  # SMTPConnectError with -1 and friends: the line was bad
            return DeliveryResult("retry", f"{where}: {_reply(exc.smtp_error)}")
        return _by_code(exc.smtp_code, where, exc.smtp_error)
    except smtplib.SMTPServerDisconnected as exc:
        # smtplib turns a socket timeout during a reply into "disconnected"; say which.
        if isinstance(exc.__context__, TimeoutError):
            return DeliveryResult("retry", f"{where}: timed out")
        return DeliveryResult("retry", f"{where}: server closed the connection")
    except smtplib.SMTPException as exc:  # unsupported AUTH/SMTPUTF8 etc.: configuration
        return DeliveryResult("failed", f"{where}: {_reply(str(exc))}")
    except _ssl.SSLCertVerificationError:
        return DeliveryResult("failed", f"{where}: TLS certificate verification failed")
    except _ssl.SSLError:
        return DeliveryResult("retry", f"{where}: TLS handshake failed")
    except socket.gaierror:
        return DeliveryResult("retry", f"{where}: unknown host")
    except ConnectionRefusedError:
        return DeliveryResult("retry", f"{where}: connection refused")
    except TimeoutError:
        return DeliveryResult("retry", f"{where}: timed out")
    except OSError as exc:
        return DeliveryResult("retry", f"{where}: connection failed ({exc.strerror or 'error'})")
    refused_codes = {a: (int(c), _reply(m)) for a, (c, m) in refused.items()}
    note = f"; {len(refused_codes)} recipient(s) refused" if refused_codes else ""
    return DeliveryResult(
        "sent",
        f"{where}: accepted for {len(recipients) - len(refused_codes)} recipient(s){note}",
        smtp_code=250,
        message_id=message_id,
        refused=refused_codes,
    )
