"""Console sessions and sign-in throttling (security.md AUTH-1, AUTH-6, AUTH-7).

A session is a random 256-bit id in an HTTP-only cookie; the database keeps its SHA-256 digest, the
user, a CSRF token (AUTH-8) and its expiry. Sessions end after ``session_max_age_s`` at most, after
``IDLE_S`` without a request, on sign-out (the row is deleted), and when their user is no longer
active. Failed sign-ins are counted per account and client address: after ``FREE_FAILURES`` in
``WINDOW_MS`` each further try must wait 2^n seconds (at most 15 minutes).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from . import schema as t

IDLE_S: Final = 2 * 3600
DEFAULT_MAX_AGE_S: Final = 8 * 3600
TOUCH_EVERY_MS: Final = 60_000  # last-seen is written at most once a minute per session
WINDOW_MS: Final = 15 * 60_000
FREE_FAILURES: Final = 5
MAX_WAIT_S: Final = 15 * 60


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    digest: str
    user_id: str
    csrf: str
    created_ms: int
    expires_ms: int

    def csrf_ok(self, presented: str | None) -> bool:
        """Constant-time comparison of a presented CSRF token (AUTH-8)."""
        if not presented:
            return False
        return hmac.compare_digest(presented.encode("utf-8"), self.csrf.encode("utf-8"))


class SessionStore:
    """Sessions and failed sign-ins of one org, in the console tables."""

    def __init__(self, crm: Any, max_age_s: int | None = None) -> None:
        self.crm = crm
        self.max_age_ms = int(max_age_s or DEFAULT_MAX_AGE_S) * 1000
        self.idle_ms = min(IDLE_S * 1000, self.max_age_ms)

    # ------------------------------------------------------------------ sessions

    def create(self, user_id: str) -> tuple[str, Session]:
        """A new session for the user; returns the cookie value (shown only here) and the row."""
        from floodway.db import write_transaction

        token = secrets.token_urlsafe(32)
        now = self.crm.now_ms()
        session = Session(
            digest(token), str(user_id), secrets.token_urlsafe(32), now, now + self.max_age_ms
        )
        S = t.console_sessions
        with write_transaction(self.crm.engine) as conn:
            # Expired rows of this user go now, so the table does not grow without bound.
            conn.execute(S.delete().where(S.c.user_id == int(user_id), S.c.expires_ms <= now))
            conn.execute(
                S.insert().values(
                    digest=session.digest,
                    org_id=self.crm.org_id,
                    user_id=int(user_id),
                    csrf=session.csrf,
                    created_ms=now,
                    seen_ms=now,
                    expires_ms=session.expires_ms,
                )
            )
        return token, session

    def load(self, token: str | None) -> Session | None:
        """The live session of a cookie value, else None; refreshes last-seen now and then."""
        if not token or len(token) > 200:
            return None
        S = t.console_sessions
        key = digest(token)
        with self.crm.engine.connect() as conn:
            row = conn.execute(
                sa.select(S).where(S.c.digest == key, S.c.org_id == self.crm.org_id)
            ).first()
        if row is None:
            return None
        now = self.crm.now_ms()
        if now >= row.expires_ms or now - row.seen_ms >= self.idle_ms:
            self.delete(token)
            return None
        if now - row.seen_ms >= TOUCH_EVERY_MS:
            from floodway.db import write_transaction

            with write_transaction(self.crm.engine) as conn:
                conn.execute(S.update().where(S.c.digest == key).values(seen_ms=now))
        return Session(row.digest, str(row.user_id), row.csrf, row.created_ms, row.expires_ms)

    def delete(self, token: str | None) -> None:
        if not token:
            return
        from floodway.db import write_transaction

        S = t.console_sessions
        with write_transaction(self.crm.engine) as conn:
            conn.execute(S.delete().where(S.c.digest == digest(token)))

    def end_user_sessions(self, user_id: str) -> None:
        """Ends every session of a user (deactivation, password change)."""
        from floodway.db import write_transaction

        S = t.console_sessions
        with write_transaction(self.crm.engine) as conn:
            conn.execute(S.delete().where(S.c.user_id == int(user_id)))

    # ------------------------------------------------------------------ sign-in throttle

    def retry_after_s(self, account: str, address: str) -> int:
        """Seconds the next sign-in attempt must wait for this account and address (0: now)."""
        F = t.console_login_failures
        now = self.crm.now_ms()
        with self.crm.engine.connect() as conn:
            row = conn.execute(
                sa.select(sa.func.count(), sa.func.max(F.c.created_ms)).where(
                    F.c.org_id == self.crm.org_id,
                    F.c.account == _account(account),
                    F.c.address == address[:64],
                    F.c.created_ms > now - WINDOW_MS,
                )
            ).one()
        count, last = int(row[0] or 0), row[1]
        if count < FREE_FAILURES or last is None:
            return 0
        wait_ms = min(2 ** (count - FREE_FAILURES + 1), MAX_WAIT_S) * 1000
        remaining = last + wait_ms - now
        return max(0, math.ceil(remaining / 1000))

    def record_failure(self, account: str, address: str) -> None:
        from floodway.db import write_transaction

        F = t.console_login_failures
        now = self.crm.now_ms()
        with write_transaction(self.crm.engine) as conn:
            conn.execute(F.delete().where(F.c.created_ms <= now - WINDOW_MS))
            conn.execute(
                F.insert().values(
                    id=self.crm.ids.next_id(),
                    org_id=self.crm.org_id,
                    account=_account(account),
                    address=address[:64],
                    created_ms=now,
                )
            )

    def clear_failures(self, account: str, address: str) -> None:
        from floodway.db import write_transaction

        F = t.console_login_failures
        with write_transaction(self.crm.engine) as conn:
            conn.execute(
                F.delete().where(
                    F.c.org_id == self.crm.org_id,
                    F.c.account == _account(account),
                    F.c.address == address[:64],
                )
            )


def _account(email: str) -> str:
    return (email or "").strip().lower()[:320]
