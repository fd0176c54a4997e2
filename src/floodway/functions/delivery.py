"""Outbox delivery: mail that functions queued goes out through the operator's SMTP server.

Executions only write outbox rows (functions-platform.md §8.5); this module sends the due ones,
records each attempt, and retries temporary failures after 1 min, 5 min, 30 min and 2 h before
giving up. ``DeliveryLoop`` runs it on a background thread of ``floodway serve``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from .mailer import SmtpSettings, deliver, next_retry_delay

if TYPE_CHECKING:
    from .service import Functions

log = logging.getLogger("floodway.delivery")


def smtp_from_settings(settings: Any) -> SmtpSettings | None:
    """The SMTP server of the settings, or None when mail is kept in the outbox only."""
    host = getattr(settings, "smtp_host", None)
    if not host:
        return None
    return SmtpSettings(
        host=host,
        port=int(getattr(settings, "smtp_port", 587)),
        starttls=bool(getattr(settings, "smtp_starttls", True)),
        ssl=bool(getattr(settings, "smtp_ssl", False)),
        username=getattr(settings, "smtp_username", None),
        password=getattr(settings, "smtp_password", None),
        from_default=getattr(settings, "smtp_from", None),
    )


def deliver_pending(fx: Functions, smtp: SmtpSettings, limit: int = 50) -> int:
    """Send the mail that is due; returns how many were sent."""
    sent = 0
    for outbox_id, mail in fx.outbox.pending(limit=limit):
        attempts = fx.outbox.attempts(outbox_id)
        result = deliver(mail, smtp)
        if result.ok:
            fx.outbox.mark_sent(outbox_id)
            sent += 1
            continue
        delay = next_retry_delay(attempts + 1) if result.retryable else None
        retry_at = None if delay is None else fx.crm.now_ms() + int(delay * 1000)
        fx.outbox.mark_failed(outbox_id, result.message, retry_at=retry_at)
        log.warning("mail %s not delivered (%s): %s", outbox_id, result.status, result.message)
    return sent


class DeliveryLoop:
    """Delivers due mail every ``interval_s`` seconds until stopped."""

    def __init__(self, fx: Functions, smtp: SmtpSettings, interval_s: float = 5.0) -> None:
        self.fx, self.smtp, self.interval_s = fx, smtp, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="floodway-mail", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.smtp.timeout_s + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                deliver_pending(self.fx, self.smtp)
            except Exception:  # the loop must survive a database hiccup; next round retries
                log.exception("mail delivery round failed")
            self._stop.wait(self.interval_s)
