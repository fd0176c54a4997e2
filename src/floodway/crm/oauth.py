"""OAuth clients, tokens, grant codes and the org API key (compat §2, security.md AUTH-1..4).

Everything floodway issues carries at least 128 random bits from ``secrets`` and is stored only
as its SHA-256 digest; the plaintext exists in the response that issues it. Access tokens live
exactly ``ACCESS_TTL_S`` seconds, at most ``MAX_ACCESS_PER_REFRESH`` per refresh token (issuing
another revokes the oldest); grant codes are single use and bound to their client.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.db import write_transaction

from . import schema as t
from .errors import MSG_INVALID_DATA, CrmError
from .users import Profile, User

if TYPE_CHECKING:
    from .service import Actor, Crm

ACCESS_TTL_S: Final = 3600
MAX_ACCESS_PER_REFRESH: Final = 30
GRANT_MIN_MINUTES: Final = 3
GRANT_MAX_MINUTES: Final = 10
ALL_SCOPES: Final = (
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.ALL",
    "ZohoCRM.users.ALL",
    "ZohoCRM.org.ALL",
    "ZohoCRM.coql.READ",
    "ZohoCRM.functions.execute.READ",
    "ZohoCRM.functions.execute.CREATE",
    "ZohoSearch.securesearch.READ",
)
APIKEY_SCOPES: Final = frozenset(
    {"zohocrm.functions.execute.read", "zohocrm.functions.execute.create"}
)
_ALNUM: Final = string.ascii_uppercase + string.digits


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token(prefix: str = "1000") -> str:
    return f"{prefix}.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


def new_client_id() -> str:
    return "1000." + "".join(secrets.choice(_ALNUM) for _ in range(30))


def new_client_secret() -> str:
    return secrets.token_hex(21)


class Sealer(Protocol):
    """Encrypts the API key's display copy (security.md SEC-1); supplied by the secrets layer."""

    def seal(self, plaintext: str, aad: str) -> str: ...

    def unseal(self, sealed: str, aad: str) -> str: ...


# Operation -> scope suffixes accepted (compat §2.5); module-wide or per module.
_RECORD_OPS: Final = {
    "read": ("all", "read"),
    "search": ("all", "read"),
    "create": ("all", "create", "write"),
    "update": ("all", "update", "write"),
    "delete": ("all", "delete"),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the user, their profile, the token's scopes."""

    user: User
    profile: Profile
    scopes: frozenset[str]  # lower case
    client_id: str | None
    auth: str  # "oauth" | "apikey"
    chain: tuple[str, int] | None = None  # in-process calls from a function: its causal chain

    def actor(self, channel: str = "api", workflow: bool = True) -> Actor:
        from .service import Actor

        return Actor(self.user.id, channel, workflow, self.chain)

    def allows(self, operation: str, module: str | None = None) -> bool:
        """Whether the token's scopes allow ``operation`` (compat §2.5)."""
        s = self.scopes
        op = operation.lower()
        if op in _RECORD_OPS:
            for suffix in _RECORD_OPS[op]:
                if f"zohocrm.modules.{suffix}" in s:
                    return True
                if module and f"zohocrm.modules.{module.lower()}.{suffix}" in s:
                    return True
            return False
        if op == "settings":
            if "zohocrm.settings.all" in s or "zohocrm.settings.read" in s:
                return True
            return bool(module) and f"zohocrm.settings.{module.lower()}.read" in s
        if op in ("users", "org"):
            return f"zohocrm.{op}.all" in s or f"zohocrm.{op}.read" in s
        if op == "coql":
            return "zohocrm.coql.read" in s
        if op == "execute_get":
            return "zohocrm.functions.execute.read" in s or "zohocrm.functions.all" in s
        if op == "execute_post":
            return "zohocrm.functions.execute.create" in s or "zohocrm.functions.all" in s
        return False


def _scope_set(text: str | Iterable[str]) -> frozenset[str]:
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    return frozenset(x.strip().lower() for x in items if x.strip())


ADMIN_CACHE_S: Final = 2.0


class OAuth:
    """OAuth and API-key storage of one org (``crm.oauth``)."""

    def __init__(self, crm: Crm) -> None:
        self.crm = crm
        self._admin_principal: tuple[float, Principal] | None = None

    # ------------------------------------------------------------------ clients

    def create_self_client(
        self, name: str, user_id: str | None = None, scopes: Iterable[str] = ALL_SCOPES
    ) -> dict[str, str]:
        """A self client acting as ``user_id`` (default: the primary admin), with a refresh
        token: ``{"client_id", "client_secret", "refresh_token"}`` (shown once)."""
        uid = int(user_id or self.crm.primary_admin_id or 0)
        scope_text = " ".join(scopes)
        client_id, secret, refresh = new_client_id(), new_client_secret(), new_token()
        now = self.crm.now_ms()
        with write_transaction(self.crm.engine) as conn:
            if self.crm.users.get(uid, conn) is None:
                raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"api_name": "user_id"})
            pk = self.crm.ids.next_id()
            conn.execute(
                t.oauth_clients.insert().values(
                    id=pk,
                    org_id=self.crm.org_id,
                    client_id=client_id,
                    secret_digest=digest(secret),
                    name=str(name)[:200],
                    type="self",
                    user_id=uid,
                    scopes=scope_text,
                    created_time=now,
                )
            )
            self._insert_token(conn, "refresh", refresh, pk, uid, scope_text, None, None)
        return {"client_id": client_id, "client_secret": secret, "refresh_token": refresh}

    def create_grant_code(
        self,
        client_id: str,
        *,
        user_id: str | None = None,
        scopes: Iterable[str] | None = None,
        minutes: int = GRANT_MIN_MINUTES,
    ) -> str:
        """A single-use grant code for the ``authorization_code`` grant (3–10 minutes)."""
        if not GRANT_MIN_MINUTES <= minutes <= GRANT_MAX_MINUTES:
            raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": "minutes"})
        code = new_token()
        now = self.crm.now_ms()
        with write_transaction(self.crm.engine) as conn:
            client = self._client(conn, client_id)
            if client is None:
                raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": "client_id"})
            conn.execute(
                t.oauth_grant_codes.insert().values(
                    id=self.crm.ids.next_id(),
                    digest=digest(code),
                    client_pk=client.id,
                    user_id=int(user_id) if user_id else client.user_id,
                    scopes=" ".join(scopes) if scopes is not None else client.scopes,
                    created_time=now,
                    expires_time=now + minutes * 60_000,
                )
            )
        return code

    def _client(self, conn: Connection, client_id: Any) -> Any:
        if not isinstance(client_id, str):
            return None
        return conn.execute(
            sa.select(t.oauth_clients).where(
                t.oauth_clients.c.client_id == client_id.strip(),
                t.oauth_clients.c.org_id == self.crm.org_id,
                t.oauth_clients.c.revoked_time.is_(None),
            )
        ).first()

    # ------------------------------------------------------------------ token endpoint

    def token(self, params: Mapping[str, Any], *, api_domain: str) -> dict[str, Any]:
        """The body of ``POST /oauth/v2/token`` (HTTP 200 for errors too, as Zoho does)."""

        def p(name: str) -> str | None:
            v = params.get(name)
            if isinstance(v, (list, tuple)):
                v = v[0] if v else None
            return v.strip() if isinstance(v, str) and v.strip() else None

        grant = p("grant_type")
        if grant not in ("refresh_token", "authorization_code"):
            return {"error": "unsupported_grant_type"}
        client_id, secret = p("client_id"), p("client_secret")
        credential = p("refresh_token") if grant == "refresh_token" else p("code")
        if not client_id or not secret or not credential:
            return {"error": "invalid_request"}
        now = self.crm.now_ms()
        with write_transaction(self.crm.engine) as conn:
            client = self._client(conn, client_id)
            if client is None or not hmac.compare_digest(client.secret_digest, digest(secret)):
                return {"error": "invalid_client"}
            if grant == "refresh_token":
                row = conn.execute(
                    sa.select(t.oauth_tokens).where(
                        t.oauth_tokens.c.digest == digest(credential),
                        t.oauth_tokens.c.kind == "refresh",
                        t.oauth_tokens.c.revoked_time.is_(None),
                    )
                ).first()
                if row is None or row.client_pk != client.id or not self._active(conn, row.user_id):
                    return {"error": "invalid_code"}
                access = self._issue_access(conn, row, now)
                return self._response(access, row.scopes, api_domain)
            code = conn.execute(
                sa.select(t.oauth_grant_codes).where(
                    t.oauth_grant_codes.c.digest == digest(credential)
                )
            ).first()
            if (
                code is None
                or code.client_pk != client.id
                or code.used_time is not None
                or code.expires_time <= now
                or not self._active(conn, code.user_id)
            ):
                return {"error": "invalid_code"}
            used = conn.execute(
                t.oauth_grant_codes.update()
                .where(
                    t.oauth_grant_codes.c.id == code.id, t.oauth_grant_codes.c.used_time.is_(None)
                )
                .values(used_time=now)
            )
            if used.rowcount != 1:  # a concurrent exchange won
                return {"error": "invalid_code"}
            refresh = new_token()
            rid = self._insert_token(
                conn, "refresh", refresh, client.id, code.user_id, code.scopes, None, None
            )
            parent = conn.execute(sa.select(t.oauth_tokens).where(t.oauth_tokens.c.id == rid)).one()
            access = self._issue_access(conn, parent, now)
            body = self._response(access, code.scopes, api_domain)
            body["refresh_token"] = refresh
            return body

    @staticmethod
    def _response(access: str, scopes: str, api_domain: str) -> dict[str, Any]:
        return {
            "access_token": access,
            "scope": scopes,
            "api_domain": api_domain,
            "token_type": "Bearer",
            "expires_in": ACCESS_TTL_S,
        }

    def _active(self, conn: Connection, user_id: int) -> bool:
        status = conn.execute(
            sa.select(t.users.c.status).where(t.users.c.id == user_id)
        ).scalar_one_or_none()
        return status == "active"

    def _insert_token(
        self,
        conn: Connection,
        kind: str,
        token: str,
        client_pk: int,
        user_id: int,
        scopes: str,
        parent_id: int | None,
        expires: int | None,
    ) -> int:
        tid = self.crm.ids.next_id()
        conn.execute(
            t.oauth_tokens.insert().values(
                id=tid,
                org_id=self.crm.org_id,
                kind=kind,
                digest=digest(token),
                client_pk=client_pk,
                user_id=user_id,
                scopes=scopes,
                parent_id=parent_id,
                created_time=self.crm.now_ms(),
                expires_time=expires,
            )
        )
        return tid

    def _issue_access(self, conn: Connection, refresh: Any, now: int) -> str:
        T = t.oauth_tokens
        live = (
            conn.execute(
                sa.select(T.c.id)
                .where(
                    T.c.parent_id == refresh.id, T.c.revoked_time.is_(None), T.c.expires_time > now
                )
                .order_by(T.c.id)
            )
            .scalars()
            .all()
        )
        excess = len(live) - (MAX_ACCESS_PER_REFRESH - 1)
        if excess > 0:
            conn.execute(T.update().where(T.c.id.in_(live[:excess])).values(revoked_time=now))
        token = new_token()
        self._insert_token(
            conn,
            "access",
            token,
            refresh.client_pk,
            refresh.user_id,
            refresh.scopes,
            refresh.id,
            now + ACCESS_TTL_S * 1000,
        )
        return token

    # ------------------------------------------------------------------ using tokens

    def authenticate(self, token: Any) -> Principal:
        """The principal of a live access token; else ``INVALID_TOKEN`` (401)."""
        bad = CrmError("INVALID_TOKEN", "invalid oauth token", {}, status=401)
        if not isinstance(token, str) or not token.strip() or len(token) > 512:
            raise bad
        T, C = t.oauth_tokens, t.oauth_clients
        now = self.crm.now_ms()
        with self.crm.engine.connect() as conn:
            row = conn.execute(
                sa.select(T.c.user_id, T.c.scopes, T.c.expires_time, C.c.client_id)
                .join(C, C.c.id == T.c.client_pk)
                .where(
                    T.c.digest == digest(token.strip()),
                    T.c.kind == "access",
                    T.c.revoked_time.is_(None),
                    C.c.revoked_time.is_(None),
                    T.c.org_id == self.crm.org_id,
                )
            ).first()
            if row is None or row.expires_time is None or row.expires_time <= now:
                raise bad
            user = self.crm.users.get(row.user_id, conn)
            if user is None or not user.active:
                raise bad
            profile = self.crm.users.profile(user, conn)
        return Principal(user, profile, _scope_set(row.scopes), row.client_id, "oauth")

    def revoke(self, token: Any) -> bool:
        """Revoke a refresh token (and its access tokens) or a single access token."""
        if not isinstance(token, str) or not token.strip():
            return False
        T = t.oauth_tokens
        now = self.crm.now_ms()
        with write_transaction(self.crm.engine) as conn:
            row = conn.execute(
                sa.select(T.c.id, T.c.kind).where(
                    T.c.digest == digest(token.strip()), T.c.org_id == self.crm.org_id
                )
            ).first()
            if row is None:
                return False
            cond = T.c.id == row.id
            if row.kind == "refresh":
                cond = sa.or_(cond, T.c.parent_id == row.id)
            conn.execute(
                T.update().where(cond, T.c.revoked_time.is_(None)).values(revoked_time=now)
            )
        return True

    def revoke_user_tokens(self, conn: Connection, user_id: int) -> None:
        T = t.oauth_tokens
        conn.execute(
            T.update()
            .where(T.c.user_id == user_id, T.c.revoked_time.is_(None))
            .values(revoked_time=self.crm.now_ms())
        )

    # ------------------------------------------------------------------ org API key

    def rotate_api_key(self, sealer: Sealer | None = None) -> str:
        """A new org API key (``1003.<32 hex>.<32 hex>``); the old one stops working at once."""
        key = new_token("1003")
        now = self.crm.now_ms()
        K = t.org_api_keys
        with write_transaction(self.crm.engine) as conn:
            conn.execute(
                K.update()
                .where(K.c.org_id == self.crm.org_id, K.c.revoked_time.is_(None))
                .values(revoked_time=now)
            )
            kid = self.crm.ids.next_id()
            sealed = sealer.seal(key, self._aad(kid)) if sealer is not None else None
            conn.execute(
                K.insert().values(
                    id=kid,
                    org_id=self.crm.org_id,
                    digest=digest(key),
                    sealed=sealed,
                    created_time=now,
                )
            )
        return key

    def api_key(self, sealer: Sealer) -> str | None:
        """The current key from its sealed display copy (SEC-4), or None when there is none."""
        K = t.org_api_keys
        with self.crm.engine.connect() as conn:
            row = conn.execute(
                sa.select(K.c.id, K.c.sealed).where(
                    K.c.org_id == self.crm.org_id, K.c.revoked_time.is_(None)
                )
            ).first()
        if row is None or row.sealed is None:
            return None
        return sealer.unseal(row.sealed, self._aad(row.id))

    def has_api_key(self) -> bool:
        K = t.org_api_keys
        with self.crm.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(K.c.id).where(
                        K.c.org_id == self.crm.org_id, K.c.revoked_time.is_(None)
                    )
                ).first()
                is not None
            )

    def _aad(self, key_id: int) -> str:
        return f"{self.crm.org_id}|org_api_keys|{key_id}|sealed"

    def check_api_key(self, key: Any) -> Principal | None:
        """The primary admin as a principal limited to function execution, or None."""
        if not isinstance(key, str) or not key.strip() or len(key) > 512:
            return None
        K = t.org_api_keys
        with self.crm.engine.connect() as conn:
            # The key itself is checked on every call: a rotated key stops at once.
            row = conn.execute(
                sa.select(K.c.id).where(
                    K.c.digest == digest(key.strip()),
                    K.c.org_id == self.crm.org_id,
                    K.c.revoked_time.is_(None),
                )
            ).first()
            if row is None or self.crm.primary_admin_id is None:
                return None
            cached = self._admin_principal
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            user = self.crm.users.get(self.crm.primary_admin_id, conn)
            if user is None or not user.active:
                return None
            profile = self.crm.users.profile(user, conn)
        principal = Principal(user, profile, APIKEY_SCOPES, None, "apikey")
        # The primary admin and their profile change rarely; REST functions called with the API
        # key run as them, so they are read at most every ADMIN_CACHE_S seconds.
        self._admin_principal = (time.monotonic() + ADMIN_CACHE_S, principal)
        return principal
