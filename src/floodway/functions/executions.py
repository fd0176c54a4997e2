"""What runs leave behind: execution records, the mail outbox and the daily quota counters.

- ``ExecutionStore``: one row per run, inserted when the run ends together with the mail it
  queued (functions-platform.md §8.1, §8.5); listing newest first (ids sort by start time);
  retention with a purge (30 days, failures 90). Database triggers (migration 0008) count
  every final status written into ``execution_hourly`` for the dashboard; the purge drops
  counter hours older than the longest retention.
- ``Outbox``: ``sendmail`` messages waiting for the delivery loop; rows are kept after delivery.
- ``Quotas``: per org, kind and UTC day, counted atomically in the database so that every node
  sees the same count (security.md DOS-1): one ``INSERT … ON CONFLICT DO UPDATE … WHERE used <
  limit RETURNING used`` per call.
"""

from __future__ import annotations

import base64
import builtins
import datetime as _dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from floodway.db import read_transaction, write_transaction
from floodway.deluge.host import Mail

from . import schema as t
from .model import FunctionsError, ms_to_iso

if TYPE_CHECKING:
    from floodway.crm.service import Crm

E = t.executions
O = t.outbox_mail  # noqa: E741
Q = t.quota_counters
H = t.execution_hourly
DAY_MS: Final = 86_400_000
HOUR_MS: Final = 3_600_000
STATUSES: Final = ("running", "success", "failure", "skipped")
CLI_KEYS: Final = (
    "id",
    "function",
    "trigger",
    "status",
    "output",
    "info",
    "error",
    "statements",
    "duration_ms",
    "started_at",
)


def _ms(value: Any, what: str) -> int:
    if isinstance(value, _dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise FunctionsError("INVALID_DATA", f"{what} must be a time", {"field": what})


def _id(value: Any) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if 0 < n < 2**63 else None


class ExecutionStore:
    """Execution records of one org (``fx.executions``)."""

    def __init__(self, crm: Crm, retention_days: float = 30, failure_retention_days: float = 90):
        self.crm = crm
        self.retention_days = retention_days
        self.failure_retention_days = failure_retention_days

    # ------------------------------------------------------------------ writing

    def insert_running(self, rows: Sequence[dict[str, Any]]) -> None:
        """``running`` rows for executions still in progress (functions.running)."""
        with write_transaction(self.crm.engine) as conn:
            conn.execute(E.insert(), list(rows))

    def insert(
        self,
        row: dict[str, Any],
        mails: Sequence[tuple[int, Mail]] = (),
        *,
        update: bool = False,
        also: Callable[[Connection], None] | None = None,
    ) -> None:
        """Store one finished execution and the mail it queued ((outbox id, mail) pairs), in
        one transaction; ``update`` replaces the execution's ``running`` row; ``also`` writes
        the caller's own bookkeeping in that transaction."""
        with write_transaction(self.crm.engine) as conn:
            if also is not None:
                also(conn)
            if update:
                values = {k: v for k, v in row.items() if k not in ("id", "org_id")}
                conn.execute(
                    E.update()
                    .where(E.c.id == row["id"], E.c.org_id == row["org_id"])
                    .values(values)
                )
            else:
                conn.execute(E.insert(), [row])  # a cached statement, not one built per call
            if mails:
                conn.execute(
                    O.insert(),
                    [self._mail_row(i, m, row["id"], row["finished_time"]) for i, m in mails],
                )

    def mark_failure(self, execution_id: Any, kind: str, message: str) -> None:
        """Turn a finished run into a ``failure`` whose result its caller could not use (a
        related list that is not valid XML, a validation map of the wrong shape): the run
        itself ended, but for the user it failed (functions-platform.md §2.4, §2.6)."""
        eid = _id(execution_id)
        if eid is None:
            return
        error = {"kind": kind, "message": message[:2000], "line": None, "column": None}
        with write_transaction(self.crm.engine) as conn:
            conn.execute(
                E.update()
                .where(E.c.id == eid, E.c.org_id == self.crm.org_id, E.c.status == "success")
                .values(status="failure", error=error)
            )

    def _mail_row(
        self, mail_id: int, mail: Mail, execution_id: int | None, now: int
    ) -> dict[str, Any]:
        return {
            "id": mail_id,
            "org_id": self.crm.org_id,
            "execution_id": execution_id,
            "status": "pending",
            "sender": mail.sender,
            "recipients": {
                "to": list(mail.to),
                "cc": list(mail.cc),
                "bcc": list(mail.bcc),
                "reply_to": list(mail.reply_to),
            },
            "subject": mail.subject,
            "message": mail.message,
            "content_type": mail.content_type,
            "attachments": [
                {
                    "name": f.name,
                    "content_type": f.content_type,
                    "content_b64": base64.b64encode(f.content).decode("ascii"),
                }
                for f in mail.attachments
            ],
            "attempts": 0,
            "next_attempt_time": now,
            "last_error": None,
            "created_time": now,
            "sent_time": None,
        }

    # ------------------------------------------------------------------ reading

    @staticmethod
    def to_json(r: Any) -> dict[str, Any]:
        return {
            "id": str(r.id),
            "function": r.function,
            "function_id": str(r.function_id) if r.function_id is not None else None,
            "version": r.version,
            "trigger": r.trigger,
            "trigger_type": r.trigger_type,
            "status": r.status,
            "caller": r.caller,
            "run_as": str(r.run_as) if r.run_as is not None else None,
            "arguments": r.arguments,
            "output": r.output,
            "output_text": r.output_text,
            "output_truncated": bool(r.output_truncated),
            "info": r.info,
            "error": r.error,
            "notes": r.notes,
            "statements": r.statements,
            "http_calls": r.http_calls,
            "emails": r.emails,
            "records": r.records,
            "client_actions": r.client_actions,
            "started_at": ms_to_iso(r.started_time),
            "finished_at": ms_to_iso(r.finished_time),
            "duration_ms": r.duration_ms,
            "rerun_of": str(r.rerun_of) if r.rerun_of is not None else None,
            "chain_id": str(r.chain_id) if r.chain_id is not None else None,
            "chain_depth": r.chain_depth,
        }

    @staticmethod
    def cli_json(record: dict[str, Any]) -> dict[str, Any]:
        """The ``floodway executions --json`` item of a full record."""
        out = {k: record[k] for k in CLI_KEYS if k != "trigger"}
        out["trigger"] = record["trigger_type"]
        return {k: out[k] for k in CLI_KEYS}

    def get(self, execution_id: Any) -> dict[str, Any]:
        eid = _id(execution_id)
        row = None
        if eid is not None:
            with read_transaction(self.crm.engine) as conn:
                row = conn.execute(
                    sa.select(E).where(E.c.id == eid, E.c.org_id == self.crm.org_id)
                ).first()
        if row is None:
            raise FunctionsError(
                "NOT_FOUND",
                f"Execution '{str(execution_id)[:40]}' does not exist",
                {"id": str(execution_id)[:40]},
            )
        return self.to_json(row)

    def list(
        self,
        *,
        function: str | None = None,
        status: str | None = None,
        trigger: str | None = None,
        since: Any = None,
        until: Any = None,
        limit: int = 20,
        before_id: Any = None,
    ) -> list[dict[str, Any]]:
        """Executions newest first, filtered by function api name (case-insensitive), status,
        trigger type and start time (``since`` inclusive, ``until`` exclusive)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= 1000:
            raise FunctionsError("INVALID_DATA", "limit must be 1 to 1000", {"field": "limit"})
        q = sa.select(E).where(E.c.org_id == self.crm.org_id)
        if function is not None:
            q = q.where(sa.func.lower(E.c.function) == function.lower())
        if status is not None:
            if status not in STATUSES:
                raise FunctionsError(
                    "INVALID_DATA",
                    f"status must be one of {', '.join(STATUSES)}",
                    {"field": "status"},
                )
            q = q.where(E.c.status == status)
        if trigger is not None:
            q = q.where(E.c.trigger_type == trigger)
        if since is not None:
            q = q.where(E.c.started_time >= _ms(since, "since"))
        if until is not None:
            q = q.where(E.c.started_time < _ms(until, "until"))
        if before_id is not None:
            bid = _id(before_id)
            if bid is None:
                raise FunctionsError(
                    "INVALID_DATA", "before_id is not an id", {"field": "before_id"}
                )
            q = q.where(E.c.id < bid)
        q = q.order_by(E.c.id.desc()).limit(limit)
        with read_transaction(self.crm.engine) as conn:
            return [self.to_json(r) for r in conn.execute(q).all()]

    def purge(self, now: Any = None) -> int:
        """Delete executions past retention (successes and skips after ``retention_days``,
        failures after ``failure_retention_days``); returns how many rows went."""
        now_ms = self.crm.now_ms() if now is None else _ms(now, "now")
        keep_ok = now_ms - int(self.retention_days * DAY_MS)
        keep_failed = now_ms - int(self.failure_retention_days * DAY_MS)
        with write_transaction(self.crm.engine) as conn:
            a = conn.execute(
                E.delete().where(
                    E.c.org_id == self.crm.org_id,
                    E.c.status != "failure",
                    E.c.started_time < keep_ok,
                )
            ).rowcount
            b = conn.execute(
                E.delete().where(
                    E.c.org_id == self.crm.org_id,
                    E.c.status == "failure",
                    E.c.started_time < keep_failed,
                )
            ).rowcount
            # The dashboard's hourly counters (migration 0008) go with the longest retention:
            # the previous-period comparison still has them after the successes are gone.
            keep_counters = min(keep_ok, keep_failed) // HOUR_MS
            conn.execute(H.delete().where(H.c.org_id == self.crm.org_id, H.c.hour < keep_counters))
        return int(a or 0) + int(b or 0)


class Outbox:
    """Queued mail (``fx.outbox``) for the delivery loop; rows stay after delivery."""

    def __init__(self, crm: Crm) -> None:
        self.crm = crm

    def queue(self, conn: Connection, mail: Mail) -> str:
        """Queue ``mail`` in ``conn``'s open transaction, with no execution (workflow e-mail
        actions: the mail commits or rolls back with the action); returns its outbox id."""
        mail_id = self.crm.ids.next_id()
        row = ExecutionStore(self.crm)._mail_row(mail_id, mail, None, self.crm.now_ms())
        conn.execute(O.insert(), [row])
        return str(mail_id)

    @staticmethod
    def to_json(r: Any, content: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(r.id),
            "execution_id": str(r.execution_id) if r.execution_id is not None else None,
            "status": r.status,
            "from": r.sender,
            **r.recipients,
            "subject": r.subject,
            "content_type": r.content_type,
            "attachments": [
                {"name": a["name"], "content_type": a["content_type"]} for a in r.attachments
            ],
            "attempts": r.attempts,
            "next_attempt_at": ms_to_iso(r.next_attempt_time),
            "last_error": r.last_error,
            "created_at": ms_to_iso(r.created_time),
            "sent_at": ms_to_iso(r.sent_time),
        }
        if content:
            out["message"] = r.message
        return out

    def list(self, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = sa.select(O).where(O.c.org_id == self.crm.org_id)
        if status is not None:
            q = q.where(O.c.status == status)
        with read_transaction(self.crm.engine) as conn:
            rows = conn.execute(q.order_by(O.c.id.desc()).limit(limit)).all()
        return [self.to_json(r) for r in rows]

    def pending(self, limit: int = 50, now: Any = None) -> builtins.list[tuple[str, Mail]]:
        """(outbox id, mail) of messages due for a delivery attempt, oldest first."""
        from floodway.deluge.values import File

        now_ms = self.crm.now_ms() if now is None else _ms(now, "now")
        q = (
            sa.select(O)
            .where(
                O.c.org_id == self.crm.org_id,
                O.c.status == "pending",
                O.c.next_attempt_time <= now_ms,
            )
            .order_by(O.c.id)
            .limit(limit)
        )
        with read_transaction(self.crm.engine) as conn:
            rows = conn.execute(q).all()
        out = []
        for r in rows:
            rc = r.recipients
            mail = Mail(
                sender=r.sender,
                to=list(rc.get("to", [])),
                subject=r.subject,
                message=r.message,
                cc=list(rc.get("cc", [])),
                bcc=list(rc.get("bcc", [])),
                reply_to=list(rc.get("reply_to", [])),
                content_type=r.content_type,
                attachments=[
                    File(a["name"], base64.b64decode(a["content_b64"]), a["content_type"])
                    for a in r.attachments
                ],
            )
            out.append((str(r.id), mail))
        return out

    def attempts(self, outbox_id: str) -> int:
        """Delivery attempts made so far for one message."""
        q = sa.select(O.c.attempts).where(O.c.id == int(outbox_id), O.c.org_id == self.crm.org_id)
        with read_transaction(self.crm.engine) as conn:
            return int(conn.execute(q).scalar_one_or_none() or 0)

    def mark_sent(self, outbox_id: str) -> None:
        now = self.crm.now_ms()
        with write_transaction(self.crm.engine) as conn:
            conn.execute(
                O.update()
                .where(O.c.id == int(outbox_id), O.c.org_id == self.crm.org_id)
                .values(status="sent", sent_time=now, attempts=O.c.attempts + 1, last_error=None)
            )

    def mark_failed(self, outbox_id: str, error: str, retry_at: Any = None) -> None:
        """Record a failed attempt; ``retry_at`` (ms or datetime) keeps it pending, None ends it."""
        values: dict[str, Any] = {"attempts": O.c.attempts + 1, "last_error": error[:2000]}
        if retry_at is None:
            values.update(status="failed", next_attempt_time=None)
        else:
            values.update(next_attempt_time=_ms(retry_at, "retry_at"))
        with write_transaction(self.crm.engine) as conn:
            conn.execute(
                O.update()
                .where(O.c.id == int(outbox_id), O.c.org_id == self.crm.org_id)
                .values(**values)
            )


class QuotaExceeded(Exception):
    def __init__(self, kind: str, limit: int) -> None:
        super().__init__(f"{kind} limit of {limit} per day reached")
        self.kind, self.limit = kind, limit


class Quotas:
    """Daily per-org counters (``fx.quotas``): ``invokeurl``, ``sendmail``, …"""

    def __init__(self, crm: Crm) -> None:
        self.crm = crm

    def _day(self) -> str:
        return self.crm.clock().astimezone(_dt.UTC).date().isoformat()

    def take(self, kind: str, limit: int, n: int = 1) -> int:
        """Count ``n`` uses of ``kind`` today; raises ``QuotaExceeded`` (counting nothing) when
        that would pass ``limit``. Returns the new count."""
        if n > limit:
            raise QuotaExceeded(kind, limit)
        key = {"org_id": self.crm.org_id, "kind": kind, "day": self._day()}
        with write_transaction(self.crm.engine) as conn:
            ins = (
                postgresql.insert(Q) if conn.dialect.name == "postgresql" else sqlite.insert(Q)
            ).values(**key, used=n)
            stmt = ins.on_conflict_do_update(
                index_elements=[Q.c.org_id, Q.c.kind, Q.c.day],
                set_={"used": Q.c.used + n},
                where=Q.c.used + n <= limit,
            ).returning(Q.c.used)
            used = conn.execute(stmt).scalar()
        if used is None:
            raise QuotaExceeded(kind, limit)
        return int(used)

    def used(self, kind: str, day: str | None = None) -> int:
        with read_transaction(self.crm.engine) as conn:
            v = conn.execute(
                sa.select(Q.c.used).where(
                    Q.c.org_id == self.crm.org_id, Q.c.kind == kind, Q.c.day == (day or self._day())
                )
            ).scalar()
        return int(v or 0)

    def purge(self, keep_days: int = 7) -> None:
        cutoff = self.crm.clock().astimezone(_dt.UTC).date() - _dt.timedelta(days=keep_days)
        with write_transaction(self.crm.engine) as conn:
            conn.execute(
                Q.delete().where(Q.c.org_id == self.crm.org_id, Q.c.day < cutoff.isoformat())
            )
