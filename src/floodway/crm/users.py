"""Users, profiles and passwords (security.md AUTH-5, AZ-1).

Profiles are roles-free rights sets: per-module ``read``/``create``/``edit``/``delete`` and the
org permissions ``manage_functions``, ``manage_workflow``, ``manage_users``,
``manage_settings``. Two are seeded: Administrator (everything) and Standard (every module
right, no org permission). Passwords are argon2id hashes with the RFC 9106 low-memory profile
(m=64 MiB, t=3, p=4); at most four hashes run at once per process.
"""

from __future__ import annotations

import secrets
import threading
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Connection

from . import schema as t
from .errors import MSG_INVALID_DATA, CrmError

if TYPE_CHECKING:
    from .service import Crm

MODULE_OPS: Final = ("read", "create", "edit", "delete")
PERMISSIONS: Final = ("manage_functions", "manage_workflow", "manage_users", "manage_settings")
ADMINISTRATOR: Final = "Administrator"
STANDARD: Final = "Standard"
PASSWORD_MIN: Final = 8
PASSWORD_MAX: Final = 1024
# A short built-in list; security.md AUTH-5 asks for a bundled list of common passwords.
COMMON_PASSWORDS: Final = frozenset(
    {
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "qwerty123",
        "iloveyou",
        "11111111",
        "00000000",
        "abc12345",
        "letmein1",
        "welcome1",
        "admin123",
        "administrator",
        "changeme",
        "floodway",
    }
)

_hasher: Final = PasswordHasher(
    time_cost=3, memory_cost=65536, parallelism=4, hash_len=32, salt_len=16, type=Type.ID
)
_hash_slots: Final = threading.BoundedSemaphore(4)
_dummy: list[str] = []  # a cache: verified against for unknown users (AUTH-6)


def _dummy_hash() -> str:
    if not _dummy:
        _dummy.append(_hasher.hash(secrets.token_hex(16)))
    return _dummy[0]


def hash_password(password: str) -> str:
    with _hash_slots:
        return _hasher.hash(normalize_password(password))


def verify_password_hash(stored: str | None, password: str) -> bool:
    target = stored or _dummy_hash()
    with _hash_slots:
        try:
            return _hasher.verify(target, normalize_password(password)) and bool(stored)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def needs_rehash(stored: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def normalize_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_password_policy(password: Any) -> None:
    if not isinstance(password, str):
        raise _bad_password("the password must be text")
    p = normalize_password(password)
    if not PASSWORD_MIN <= len(p) <= PASSWORD_MAX:
        raise _bad_password(f"passwords have {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    if p.lower() in COMMON_PASSWORDS:
        raise _bad_password("this password is too common")


def _bad_password(reason: str) -> CrmError:
    return CrmError("INVALID_DATA", MSG_INVALID_DATA, {"api_name": "password", "reason": reason})


def generate_password() -> str:
    """A random password to print once (about 130 bits)."""
    return secrets.token_urlsafe(22)


# Every write reads its actor: built once, the ids as parameters.
_BY_ID = sa.select(t.users).where(
    t.users.c.id == sa.bindparam("uid"), t.users.c.org_id == sa.bindparam("org")
)


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    name: str
    rights: dict[str, Any] = field(compare=False, hash=False)

    def can(self, module: str, op: str) -> bool:
        """Module right ``op`` (read/create/edit/delete) on ``module``."""
        mods = self.rights.get("modules") or {}
        ops = mods.get(module)
        if ops is None:
            ops = mods.get("*", [])
        return op in ops

    def has(self, permission: str) -> bool:
        return permission in (self.rights.get("permissions") or [])

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id}


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    first_name: str | None
    last_name: str
    status: str
    profile_id: str
    time_zone: str
    locale: str
    created_time: int

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def active(self) -> bool:
        return self.status == "active"


def default_profiles() -> list[tuple[str, dict[str, Any]]]:
    return [
        (ADMINISTRATOR, {"modules": {"*": list(MODULE_OPS)}, "permissions": list(PERMISSIONS)}),
        (STANDARD, {"modules": {"*": list(MODULE_OPS)}, "permissions": []}),
    ]


def _user(row: Any) -> User:
    return User(
        str(row.id),
        row.email,
        row.first_name,
        row.last_name,
        row.status,
        str(row.profile_id),
        row.time_zone,
        row.locale,
        row.created_time,
    )


class Users:
    """User and profile storage of one org."""

    BRIEF_TTL_S: Final = 2.0

    def __init__(self, crm: Crm) -> None:
        self.crm = crm
        self._brief: dict[int, tuple[str, str]] = {}
        self._brief_at = 0.0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ profiles

    def seed_profiles(self, conn: Connection, now_ms: int) -> dict[str, int]:
        out = {}
        for name, rights in default_profiles():
            pid = self.crm.ids.next_id()
            conn.execute(
                t.profiles.insert().values(
                    id=pid, org_id=self.crm.org_id, name=name, rights=rights, created_time=now_ms
                )
            )
            out[name] = pid
        return out

    def profiles(self) -> list[Profile]:
        with self.crm.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.profiles)
                .where(t.profiles.c.org_id == self.crm.org_id)
                .order_by(t.profiles.c.id)
            ).all()
        return [Profile(str(r.id), r.name, dict(r.rights)) for r in rows]

    def profile_named(self, name: str, conn: Connection | None = None) -> Profile | None:
        q = sa.select(t.profiles).where(
            t.profiles.c.org_id == self.crm.org_id, sa.func.lower(t.profiles.c.name) == name.lower()
        )
        row = self._one(q, conn)
        return Profile(str(row.id), row.name, dict(row.rights)) if row else None

    def profile(self, user: User, conn: Connection | None = None) -> Profile:
        q = sa.select(t.profiles).where(t.profiles.c.id == int(user.profile_id))
        row = self._one(q, conn)
        assert row is not None
        return Profile(str(row.id), row.name, dict(row.rights))

    def _one(self, q: Any, conn: Connection | None) -> Any:
        if conn is not None:
            return conn.execute(q).first()
        with self.crm.engine.connect() as c:
            return c.execute(q).first()

    # ------------------------------------------------------------------ users

    def create(
        self,
        email: str,
        *,
        last_name: str,
        first_name: str | None = None,
        profile: str = STANDARD,
        password: str | None = None,
        time_zone: str | None = None,
        conn: Connection | None = None,
    ) -> tuple[User, str]:
        """A new active user; returns it with its password (generated when none is given)."""
        email_n = _check_email(email)
        if not isinstance(last_name, str) or not last_name.strip():
            raise CrmError(
                "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "last_name"}
            )
        if password is None:
            password = generate_password()
        else:
            check_password_policy(password)
        digest = hash_password(password)
        if conn is None:
            from floodway.db import write_transaction

            with write_transaction(self.crm.engine) as c:
                user = self._insert(c, email_n, first_name, last_name, profile, digest, time_zone)
        else:
            user = self._insert(conn, email_n, first_name, last_name, profile, digest, time_zone)
        return user, password

    def _insert(
        self,
        conn: Connection,
        email: str,
        first_name: str | None,
        last_name: str,
        profile: str,
        digest: str,
        time_zone: str | None,
    ) -> User:
        prof = self.profile_named(profile, conn)
        if prof is None:
            raise CrmError(
                "INVALID_DATA", MSG_INVALID_DATA, {"api_name": "profile", "reason": "unknown"}
            )
        exists = conn.execute(
            sa.select(t.users.c.id).where(
                t.users.c.org_id == self.crm.org_id, t.users.c.email == email
            )
        ).first()
        if exists:
            raise CrmError("DUPLICATE_DATA", "duplicate data", {"api_name": "email"})
        now = self.crm.now_ms()
        uid = self.crm.ids.next_id()
        conn.execute(
            t.users.insert().values(
                id=uid,
                org_id=self.crm.org_id,
                email=email,
                first_name=first_name,
                last_name=last_name.strip(),
                status="active",
                profile_id=int(prof.id),
                password_hash=digest,
                time_zone=time_zone or self.crm.time_zone_name,
                locale="en_US",
                created_time=now,
                modified_time=now,
            )
        )
        row = conn.execute(sa.select(t.users).where(t.users.c.id == uid)).one()
        return _user(row)

    def get(self, user_id: str | int, conn: Connection | None = None) -> User | None:
        try:
            uid = int(user_id)
        except (TypeError, ValueError):
            return None
        params = {"uid": uid, "org": self.crm.org_id}
        if conn is not None:
            row = conn.execute(_BY_ID, params).first()
        else:
            with self.crm.engine.connect() as c:
                row = c.execute(_BY_ID, params).first()
        return _user(row) if row else None

    def by_email(self, email: str, conn: Connection | None = None) -> User | None:
        if not isinstance(email, str):
            return None
        row = self._one(
            sa.select(t.users).where(
                t.users.c.org_id == self.crm.org_id, t.users.c.email == email.strip().lower()
            ),
            conn,
        )
        return _user(row) if row else None

    def list(self, type: str = "AllUsers") -> list[User]:
        q = sa.select(t.users).where(t.users.c.org_id == self.crm.org_id).order_by(t.users.c.id)
        kind = (type or "AllUsers").lower()
        if kind == "activeusers":
            q = q.where(t.users.c.status == "active")
        elif kind == "deactiveusers":
            q = q.where(t.users.c.status != "active")
        elif kind == "adminusers":
            q = q.join(t.profiles, t.profiles.c.id == t.users.c.profile_id).where(
                t.profiles.c.name == ADMINISTRATOR
            )
        with self.crm.engine.connect() as conn:
            return [_user(r) for r in conn.execute(q).all()]

    def user_json(self, user: User) -> dict[str, Any]:
        prof = self.profile(user)
        return {
            "id": user.id,
            "email": user.email,
            "full_name": user.full_name,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "name": user.full_name,
            "status": user.status,
            "confirm": True,
            "role": {"name": "CEO" if prof.name == ADMINISTRATOR else "Standard", "id": prof.id},
            "profile": prof.to_json(),
            "time_zone": user.time_zone,
            "locale": user.locale,
            "created_time": _iso(user.created_time, self.crm),
        }

    def set_password(self, email: str, password: str) -> None:
        """Replace a user's password; ends the user's tokens (AUTH-2)."""
        check_password_policy(password)
        digest = hash_password(password)
        from floodway.db import write_transaction

        with write_transaction(self.crm.engine) as conn:
            user = self.by_email(email, conn)
            if user is None:
                raise CrmError(
                    "INVALID_DATA", MSG_INVALID_DATA, {"api_name": "email", "reason": "unknown"}
                )
            conn.execute(
                t.users.update()
                .where(t.users.c.id == int(user.id))
                .values(password_hash=digest, modified_time=self.crm.now_ms())
            )
            self.crm.oauth.revoke_user_tokens(conn, int(user.id))

    def verify_password(self, email: str, password: str) -> User | None:
        """The active user with that e-mail and password, else None (same cost either way)."""
        with self.crm.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.users).where(
                    t.users.c.org_id == self.crm.org_id,
                    t.users.c.email == (email or "").strip().lower(),
                )
            ).first()
        stored = row.password_hash if row is not None else None
        ok = verify_password_hash(stored, password if isinstance(password, str) else "")
        if not ok or row is None or row.status != "active":
            return None
        if needs_rehash(stored or ""):
            from floodway.db import write_transaction

            digest = hash_password(password)
            with write_transaction(self.crm.engine) as conn:
                conn.execute(
                    t.users.update().where(t.users.c.id == row.id).values(password_hash=digest)
                )
        return _user(row)

    def deactivate(self, user_id: str | int) -> None:
        from floodway.db import write_transaction

        with write_transaction(self.crm.engine) as conn:
            conn.execute(
                t.users.update()
                .where(t.users.c.id == int(user_id), t.users.c.org_id == self.crm.org_id)
                .values(status="disabled", modified_time=self.crm.now_ms())
            )
            self.crm.oauth.revoke_user_tokens(conn, int(user_id))
        self._brief = {}

    # ------------------------------------------------------------------ record rendering

    def brief(self, ids: Iterable[int], conn: Connection) -> dict[int, tuple[str, str]]:
        """id -> (full name, e-mail) for owner fields (cached for a moment)."""
        now = time.monotonic()
        if now - self._brief_at > self.BRIEF_TTL_S:
            self._brief = {}
            self._brief_at = now
        cache = self._brief
        missing = {i for i in ids if i not in cache}
        if missing:
            rows = conn.execute(
                sa.select(
                    t.users.c.id, t.users.c.first_name, t.users.c.last_name, t.users.c.email
                ).where(t.users.c.id.in_(missing))
            ).all()
            with self._lock:
                for r in rows:
                    name = " ".join(p for p in (r.first_name, r.last_name) if p)
                    cache[r.id] = (name, r.email)
        return cache


def _check_email(email: Any) -> str:
    if not isinstance(email, str) or "@" not in email or len(email) > 320:
        raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"api_name": "email"})
    e = email.strip().lower()
    local, _, domain = e.partition("@")
    if not local or not domain or any(c.isspace() for c in e):
        raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"api_name": "email"})
    return e


def _iso(ms: int, crm: Crm) -> str:
    from .values import ms_to_iso

    return ms_to_iso(ms, crm.tz)
