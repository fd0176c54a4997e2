"""Workflow webhooks: an outbox row written with the rule's action, delivered by a worker.

A webhook action never calls out inside the write that fired it (functions-platform.md §8.5):
``queue_webhook`` writes an ``outbox_webhooks`` row and its delivery job in the caller's
transaction, so a rolled-back write sends nothing and a committed one is delivered even when the
process stops right after the commit.

Delivery goes through the functions layer's one outbound client, so the ``invokeurl`` destination
policy applies unchanged (private and loopback addresses refused unless ``invokeurl_allow`` lets
them through, redirects checked hop by hop). Each attempt is appended to the row. Connection
errors, timeouts, HTTP 429 and 5xx are retried after 1 min, 5 min, 30 min and 2 h (5 attempts in
all); a refused destination and any other 4xx are final. A row that ends ``failed`` stays listed
and can be sent again by hand with ``resend``.

Every attempt has its own job key (``webhook:<id>:<n>``), so a recovered or duplicated job never
sends one attempt twice; the row's status is re-read when the job starts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.db import write_transaction
from floodway.functions.address_policy import OutboundError, OutboundRefused
from floodway.functions.model import ms_to_iso

from . import schema as _schema

log = logging.getLogger("floodway.automation.webhooks")

TASK: Final = "automation.webhook"
# Delays before attempts 2..5 (seconds): 1 min, 5 min, 30 min, 2 h.
RETRY_DELAYS_S: Final = (60, 300, 1800, 7200)
MAX_ATTEMPTS: Final = len(RETRY_DELAYS_S) + 1
METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_ERROR_CHARS: Final = 500
_RESPONSE_MAX_BYTES: Final = 64 * 1024


def retry_delay_s(attempts_made: int) -> int | None:
    """Seconds before the next attempt after ``attempts_made`` attempts, or None when spent."""
    if attempts_made < 1 or attempts_made > len(RETRY_DELAYS_S):
        return None
    return RETRY_DELAYS_S[attempts_made - 1]


def is_retryable_status(status: int) -> bool:
    """429 and 5xx are worth trying again; any other 4xx says the request itself is wrong."""
    return status == 429 or status >= 500


def _table() -> sa.Table:
    return _schema.outbox_webhooks


class Webhooks:
    """The webhook outbox of ``crm``'s org and its delivery job (``automation.webhook``)."""

    def __init__(self, crm: Any, functions: Any, queue: Any, settings: Any = None) -> None:
        self.crm = crm
        self.functions = functions
        self.queue = queue
        value = getattr(settings, "webhook_timeout_s", None) if settings is not None else None
        self.timeout_s = float(value) if value is not None else 10.0
        self._registered = False

    def attach(self) -> None:
        """Register the delivery task (every process, before the queue starts)."""
        if not self._registered:
            self.queue.register(TASK, self._deliver_job)
            self._registered = True

    # ------------------------------------------------------------------ queueing

    def queue_webhook(
        self,
        conn: Connection,
        *,
        url: str,
        method: str = "POST",
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        body: str | bytes | None = None,
        rule_id: str | None = None,
        rule: str | None = None,
        module: str | None = None,
        record_id: str | None = None,
        chain: tuple[str, int] | None = None,
    ) -> str:
        """Write the outbox row and its first delivery job in ``conn``'s transaction; the id."""
        T = _table()
        wid = self.crm.ids.next_id()
        now = self.crm.now_ms()
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        conn.execute(
            T.insert().values(
                id=wid,
                org_id=self.crm.org_id,
                rule_id=int(rule_id) if rule_id else None,
                rule=rule,
                module=module,
                record_id=int(record_id) if record_id else None,
                method=(method or "POST").upper(),
                url=url,
                headers=[[str(k), str(v)] for k, v in pairs],
                body=text,
                status="pending",
                attempts=[],
                next_attempt_ms=now,
                chain_id=None if chain is None else int(chain[0]),
                chain_depth=None if chain is None else int(chain[1]),
                created_ms=now,
                modified_ms=now,
                sent_ms=None,
            )
        )
        self.queue.enqueue(conn, TASK, {"id": str(wid), "attempt": 1}, key=_key(wid, 1))
        return str(wid)

    # ------------------------------------------------------------------ reading

    def list(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first; ``status`` one of pending, sent, failed."""
        T = _table()
        q = sa.select(T).where(T.c.org_id == self.crm.org_id)
        if status is not None:
            q = q.where(T.c.status == status)
        q = q.order_by(T.c.id.desc()).limit(max(1, min(int(limit), 1000)))
        with self.crm.engine.connect() as conn:
            return [_to_json(r) for r in conn.execute(q)]

    def get(self, webhook_id: str) -> dict[str, Any] | None:
        row = self._row(webhook_id)
        return None if row is None else _to_json(row)

    def _row(self, webhook_id: str, conn: Connection | None = None) -> Any:
        T = _table()
        try:
            wid = int(webhook_id)
        except (TypeError, ValueError):
            return None
        q = sa.select(T).where(T.c.id == wid, T.c.org_id == self.crm.org_id)
        if conn is not None:
            return conn.execute(q).first()
        with self.crm.engine.connect() as c:
            return c.execute(q).first()

    def resend(self, webhook_id: str) -> dict[str, Any]:
        """Deliver a failed (or already sent) webhook again: a new attempt now, and the usual
        retries after it. Raises ``AutomationError`` NOT_FOUND / INVALID_DATA (still pending)."""
        from .errors import AutomationError

        T = _table()
        with write_transaction(self.crm.engine) as conn:
            row = self._row(webhook_id, conn)
            if row is None:
                raise AutomationError(
                    "NOT_FOUND", f"no webhook with id {webhook_id}", {"id": str(webhook_id)}
                )
            if row.status == "pending":
                raise AutomationError(
                    "INVALID_DATA",
                    "this webhook is still being delivered; resend it once it has failed",
                    {"id": str(webhook_id), "status": row.status},
                )
            now = self.crm.now_ms()
            attempt = len(row.attempts or []) + 1
            conn.execute(
                T.update()
                .where(T.c.id == row.id)
                .values(status="pending", next_attempt_ms=now, modified_ms=now)
            )
            self.queue.enqueue(
                conn,
                TASK,
                {"id": str(row.id), "attempt": attempt, "first": attempt},
                key=_key(row.id, attempt),
            )
        found = self.get(str(row.id))
        assert found is not None
        return found

    # ------------------------------------------------------------------ delivery

    def _deliver_job(self, job: Any) -> None:
        args = job.args or {}
        attempt = int(args.get("attempt") or 1)
        self.deliver(str(args.get("id")), attempt, int(args.get("first") or 1))

    def deliver(self, webhook_id: str, attempt: int, first: int = 1) -> str | None:
        """Attempt number ``attempt`` (1-based over the row's life; ``first`` is where the
        current round began: 1, or the attempt a resend made). Returns the row's new status,
        or None when there was nothing to do."""
        row = self._row(webhook_id)
        if row is None or row.status != "pending":
            return None
        done = len(row.attempts or [])
        if done != attempt - 1:
            return None  # this attempt was already made (a repeated job), or is out of turn
        status, error, retryable = self._send(row)
        now = self.crm.now_ms()
        entry = {"at": ms_to_iso(now), "status": status, "error": error}
        made = attempt - first + 1  # attempts of this round (a resend starts a new one)
        T = _table()
        values: dict[str, Any] = {"attempts": [*(row.attempts or []), entry], "modified_ms": now}
        delay = retry_delay_s(made) if retryable else None
        if error is None:
            values.update(status="sent", sent_ms=now, next_attempt_ms=None)
        elif delay is None:
            values.update(status="failed", next_attempt_ms=None)
        else:
            values.update(next_attempt_ms=now + delay * 1000)
        with write_transaction(self.crm.engine) as conn:
            result = conn.execute(
                T.update().where(T.c.id == row.id, T.c.status == "pending").values(**values)
            )
            if result.rowcount and delay is not None and error is not None:
                nxt = attempt + 1
                self.queue.enqueue(
                    conn,
                    TASK,
                    {"id": str(row.id), "attempt": nxt, "first": first},
                    key=_key(row.id, nxt),
                    run_at_ms=now + delay * 1000,
                )
        if error is not None:
            log.warning(
                "webhook %s to %s: attempt %d failed (%s)%s",
                row.id,
                _host(row.url),
                done + 1,
                error,
                "" if delay is None or error is None else f"; next attempt in {delay} s",
            )
        return str(values.get("status", "pending"))

    def _send(self, row: Any) -> tuple[int | None, str | None, bool]:
        """(HTTP status or None, error text or None, whether a later attempt may succeed)."""
        body = row.body.encode("utf-8") if row.body is not None else None
        headers = [(str(k), str(v)) for k, v in (row.headers or [])]
        try:
            response = self.functions.outbound.send(
                row.method,
                row.url,
                headers,
                body,
                timeout_s=self.timeout_s,
                max_bytes=_RESPONSE_MAX_BYTES,
            )
        except OutboundRefused as exc:
            return None, _short(exc.message), False
        except OutboundError as exc:
            # The cap on the response body is not the receiver's failure: it answered.
            if exc.message.startswith("Response exceeds"):
                return None, None, False
            return None, _short(exc.message), True
        except Exception as exc:  # a bug here must not leave the row pending with no trace
            log.exception("webhook %s: delivery attempt failed unexpectedly", row.id)
            return None, f"delivery failed: {type(exc).__name__}", True
        if 200 <= response.status < 400:
            return response.status, None, False
        return (
            response.status,
            f"HTTP {response.status}",
            is_retryable_status(response.status),
        )


def _key(webhook_id: int | str, attempt: int) -> str:
    return f"webhook:{webhook_id}:{attempt}"


def _short(text: str) -> str:
    return text if len(text) <= _ERROR_CHARS else text[:_ERROR_CHARS] + "..."


def _host(url: str) -> str:
    from floodway.functions.address_policy import shown_url

    return shown_url(url)


def _to_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "rule_id": None if row.rule_id is None else str(row.rule_id),
        "rule": row.rule,
        "module": row.module,
        "record_id": None if row.record_id is None else str(row.record_id),
        "method": row.method,
        "url": row.url,
        "status": row.status,
        "attempts": list(row.attempts or []),
        "next_attempt_at": ms_to_iso(row.next_attempt_ms) if row.status == "pending" else None,
        "created_time": ms_to_iso(row.created_ms),
        "sent_time": ms_to_iso(row.sent_ms),
    }
