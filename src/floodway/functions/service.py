"""The functions platform of one org: ``Functions(crm, settings)`` (docs/functions-service-api.md).

The facade holds the services the API layer, ``floodway deploy``, the automation layer and the
CLI use: ``registry`` (functions and versions), ``executor`` (runs), ``executions`` (the log),
``outbox``, ``quotas``, ``variables`` (org variables), ``connections`` (stored connections,
secrets encrypted with the keyring, SEC-1) and ``attachments`` (files of ``attachFile``).
Settings are read once here; no other module of the layer reads them.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import fields as dc_fields
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from floodway.db import read_transaction, write_transaction
from floodway.deluge import HttpResponse
from floodway.deluge.values import File

from . import schema as t
from .connections import (
    ConnectionAuthorizer,
    ConnectionConfigError,
    ConnectionSpec,
    MemoryTokenCache,
)
from .crm_tasks import Attachment, AttachmentStore
from .executions import ExecutionStore, Outbox, Quotas
from .executor import ExecutionResult, Executor
from .live_host import InProcessRequest, collect_change
from .model import FunctionInfo, FunctionsError, LiveFunction, SaveResult, VersionInfo
from .registry import Registry
from .running import RunningExecutions

if TYPE_CHECKING:
    from floodway.crm.service import Crm

    from .outbound import OutboundClient
    from .secrets import Keyring

__all__ = [
    "ExecutionResult",
    "FunctionInfo",
    "Functions",
    "FunctionsError",
    "InProcessRequest",
    "LiveFunction",
    "SaveResult",
    "VersionInfo",
]

SECRET_FIELDS: Final = ("client_secret", "refresh_token", "api_key", "password")
_SUBSCRIBED_ATTR: Final = "_floodway_functions_subscribed"


def _setting(settings: Any, name: str, default: Any) -> Any:
    value = getattr(settings, name, None) if settings is not None else None
    return default if value is None else value


class Functions:
    """The functions platform of ``crm``'s org; one per process, thread-safe."""

    def __init__(
        self,
        crm: Crm,
        settings: Any = None,
        *,
        keyring: Keyring | None = None,
        outbound: OutboundClient | None = None,
        zapikey: Callable[[], str | None] | None = None,
    ) -> None:
        self.crm = crm
        self.settings = settings
        s = settings
        self.time_limit_s = float(_setting(s, "time_limit_s", 60.0))
        self.validation_time_limit_s = float(_setting(s, "validation_time_limit_s", 10.0))
        self.schedule_time_limit_s = float(_setting(s, "schedule_time_limit_s", 900.0))
        compat = bool(_setting(s, "compat_statement_limit", False))
        self.statement_limit = 5_000 if compat else int(_setting(s, "statement_limit", 200_000))
        self.memory_limit_mb = int(_setting(s, "memory_limit_mb", 256))
        self.invokeurl_daily = int(_setting(s, "invokeurl_daily", 50_000))
        self.sendmail_daily = int(_setting(s, "sendmail_daily", 1_000))
        self.month_first = bool(_setting(s, "month_first", True))
        self.invokeurl_allow = list(_setting(s, "invokeurl_allow", []))
        self.public_origin = _origin(_setting(s, "public_url", None))
        self.keyring = keyring
        self.zapikey = zapikey
        # Set by the API layer at start-up: serves invokeurl calls to the CRM API in-process.
        self.in_process_api: Callable[[InProcessRequest], HttpResponse] | None = None
        self._outbound = outbound
        self.registry = Registry(crm, float(_setting(s, "function_cache_ttl_s", 1.0)))
        self.executions = ExecutionStore(
            crm,
            float(_setting(s, "execution_retention_days", 30)),
            float(_setting(s, "execution_failure_retention_days", 90)),
        )
        self.outbox = Outbox(crm)
        # Runs lasting over a second get a `running` record while they go on (running.py).
        self.running = RunningExecutions(
            self.executions.insert_running,
            float(_setting(s, "running_record_after_s", 1.0)),
        )
        self.quotas = Quotas(crm)
        self.variables = OrgVariables(crm)
        self.connections = ConnectionStore(self)
        self.attachments = DbAttachments(crm)
        self.executor = Executor(self)
        if not getattr(crm, _SUBSCRIBED_ATTR, False):
            crm.events.subscribe(collect_change)
            setattr(crm, _SUBSCRIBED_ATTR, True)

    @property
    def outbound(self) -> OutboundClient:
        if self._outbound is None:
            from .standalone_host import outbound_client

            self._outbound = outbound_client(self.invokeurl_allow)
        return self._outbound

    def run(
        self, function: str | LiveFunction, arguments: Any = None, **kw: Any
    ) -> ExecutionResult:
        """``executor.run`` (see there)."""
        return self.executor.run(function, arguments, **kw)

    def purge(self) -> int:
        """Retention: old executions and quota counters."""
        self.quotas.purge()
        return self.executions.purge()


def _origin(url: Any) -> tuple[str, str, int] | None:
    if not url:
        return None
    from .address_policy import OutboundError, parse_url, url_host, url_port

    try:
        parsed = parse_url(str(url))
    except OutboundError:
        return None
    host = url_host(parsed)
    return (parsed.scheme, host, url_port(parsed)) if host else None


# --------------------------------------------------------------------------------------------
# Org variables


class OrgVariables:
    """Org variables (``zoho.crm.getOrgVariable``; ``fx.variables``); names case-insensitive."""

    def __init__(self, crm: Crm) -> None:
        self.crm = crm

    def list(self) -> list[dict[str, Any]]:
        V = t.org_variables
        with read_transaction(self.crm.engine) as conn:
            rows = conn.execute(
                sa.select(V).where(V.c.org_id == self.crm.org_id).order_by(V.c.name_key)
            ).all()
        return [{"name": r.name, "value": r.value, "description": r.description} for r in rows]

    def get(self, name: str) -> str | None:
        V = t.org_variables
        if not isinstance(name, str):
            return None
        with read_transaction(self.crm.engine) as conn:
            return conn.execute(
                sa.select(V.c.value).where(
                    V.c.org_id == self.crm.org_id, V.c.name_key == name.strip().lower()
                )
            ).scalar()

    def set(self, name: str, value: str, description: str | None = None) -> None:
        V = t.org_variables
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
            raise FunctionsError(
                "INVALID_DATA", "a variable name is 1 to 100 characters", {"field": "name"}
            )
        if not isinstance(value, str):
            raise FunctionsError("INVALID_DATA", "a variable value is text", {"field": "value"})
        key = name.strip().lower()
        now = self.crm.now_ms()
        with write_transaction(self.crm.engine) as conn:
            found = conn.execute(
                sa.select(V.c.id).where(V.c.org_id == self.crm.org_id, V.c.name_key == key)
            ).scalar()
            if found is None:
                conn.execute(
                    V.insert().values(
                        id=self.crm.ids.next_id(),
                        org_id=self.crm.org_id,
                        name=name.strip(),
                        name_key=key,
                        value=value,
                        description=description,
                        created_time=now,
                        modified_time=now,
                    )
                )
            else:
                values: dict[str, Any] = {"value": value, "modified_time": now}
                if description is not None:
                    values["description"] = description
                conn.execute(V.update().where(V.c.id == found).values(**values))

    def delete(self, name: str) -> bool:
        V = t.org_variables
        with write_transaction(self.crm.engine) as conn:
            n = conn.execute(
                V.delete().where(
                    V.c.org_id == self.crm.org_id, V.c.name_key == str(name).strip().lower()
                )
            ).rowcount
        return bool(n)


# --------------------------------------------------------------------------------------------
# Connections


class ConnectionStore:
    """Stored connections (``fx.connections``): secrets encrypted with the keyring (SEC-1),
    never returned (SEC-4); ``authorizer(name)`` gives the credentials for the host."""

    def __init__(self, fx: Functions) -> None:
        self.fx = fx
        self.crm = fx.crm
        self._tokens = MemoryTokenCache()
        self._authorizers: dict[str, tuple[int, ConnectionAuthorizer]] = {}
        self._lock = threading.Lock()

    def _context(self, key: str, field: str) -> Any:
        from .secrets import SecretContext

        return SecretContext(str(self.crm.org_id), "connections", key, field)

    def _keyring(self) -> Keyring:
        if self.fx.keyring is None:
            raise FunctionsError(
                "SECRETS_UNAVAILABLE", "no secrets key is configured for connection secrets", {}
            )
        return self.fx.keyring

    def put(self, spec: ConnectionSpec) -> dict[str, Any]:
        """Create or replace the connection ``spec.name``."""
        try:
            spec.validate()
        except ConnectionConfigError as exc:
            raise FunctionsError("INVALID_DATA", str(exc), {"field": "connection"}) from None
        key = spec.name.lower()
        config: dict[str, Any] = {}
        sealed: dict[str, str] = {}
        digest = hashlib.sha256()
        for f in dc_fields(ConnectionSpec):
            value = getattr(spec, f.name)
            if f.name in ("name", "type"):
                continue
            if f.name in SECRET_FIELDS:
                if value:
                    sealed[f.name] = self._keyring().encrypt(value, self._context(key, f.name))
                    digest.update(f"{f.name}={value}\n".encode())
                continue
            config[f.name] = list(value) if isinstance(value, tuple) else value
        fingerprint = "sha256:" + digest.hexdigest()[:8] if sealed else None
        now = self.crm.now_ms()
        C = t.connections
        with write_transaction(self.crm.engine) as conn:
            found = conn.execute(
                sa.select(C.c.id).where(C.c.org_id == self.crm.org_id, C.c.name_key == key)
            ).scalar()
            values = {
                "name": spec.name,
                "type": spec.type,
                "config": config,
                "secrets": sealed,
                "fingerprint": fingerprint,
                "modified_time": now,
            }
            if found is None:
                conn.execute(
                    C.insert().values(
                        id=self.crm.ids.next_id(),
                        org_id=self.crm.org_id,
                        name_key=key,
                        created_time=now,
                        **values,
                    )
                )
            else:
                conn.execute(C.update().where(C.c.id == found).values(**values))
        with self._lock:
            self._authorizers.pop(key, None)
        return self.get_json(spec.name)

    def _row(self, name: str) -> Any:
        C = t.connections
        if not isinstance(name, str):
            return None
        with read_transaction(self.crm.engine) as conn:
            return conn.execute(
                sa.select(C).where(C.c.org_id == self.crm.org_id, C.c.name_key == name.lower())
            ).first()

    def _need(self, name: str) -> Any:
        row = self._row(name)
        if row is None:
            raise FunctionsError(
                "NOT_FOUND", f"Connection '{str(name)[:100]}' does not exist", {"name": name}
            )
        return row

    @staticmethod
    def _json(row: Any) -> dict[str, Any]:
        from .model import ms_to_iso

        out: dict[str, Any] = {"name": row.name, "type": row.type}
        out.update(row.config)
        out["secret_set"] = bool(row.secrets)
        out["fingerprint"] = row.fingerprint
        out["created_time"] = ms_to_iso(row.created_time)
        out["modified_time"] = ms_to_iso(row.modified_time)
        return out

    def get_json(self, name: str) -> dict[str, Any]:
        return self._json(self._need(name))

    def list(self) -> list[dict[str, Any]]:
        C = t.connections
        with read_transaction(self.crm.engine) as conn:
            rows = conn.execute(
                sa.select(C).where(C.c.org_id == self.crm.org_id).order_by(C.c.name_key)
            ).all()
        return [self._json(r) for r in rows]

    def _spec(self, row: Any) -> ConnectionSpec:
        values: dict[str, Any] = {}
        for f in dc_fields(ConnectionSpec):
            if f.name in row.config:
                v = row.config[f.name]
                values[f.name] = tuple(v) if isinstance(v, list) else v
        for name, envelope in (row.secrets or {}).items():
            values[name] = self._keyring().decrypt(envelope, self._context(row.name_key, name))
        return ConnectionSpec(name=row.name, type=row.type, **values)

    def spec(self, name: str) -> ConnectionSpec:
        """The connection with its secrets decrypted (for the host only)."""
        return self._spec(self._need(name))

    def authorizer(self, name: str) -> ConnectionAuthorizer:
        found = self.authorizer_or_none(name)
        if found is None:
            raise FunctionsError(
                "NOT_FOUND", f"Connection '{str(name)[:100]}' does not exist", {"name": name}
            )
        return found

    def authorizer_or_none(self, name: str) -> ConnectionAuthorizer | None:
        """The connection's authorizer, rebuilt when the stored row changed; None if unknown."""
        row = self._row(name)
        if row is None:
            return None
        key = row.name_key
        hit = self._authorizers.get(key)
        if hit is not None and hit[0] == row.modified_time:
            return hit[1]
        try:
            spec = self._spec(row)
        except FunctionsError:
            from .address_policy import OutboundError

            raise OutboundError(
                f"Connection '{row.name}' cannot be used: no secrets key is configured"
            ) from None

        def store_refresh_token(token: str) -> None:
            self._store_secret(key, "refresh_token", token)

        auth = ConnectionAuthorizer(
            spec,
            self.fx.outbound,
            token_cache=self._tokens,
            cache_key=f"{self.crm.org_id}:{key}:{row.modified_time}",
            on_refresh_token=store_refresh_token,
        )
        with self._lock:
            self._authorizers[key] = (row.modified_time, auth)
        return auth

    def _store_secret(self, key: str, field: str, value: str) -> None:
        """A rotated refresh token replaces the stored one (SEC-3), under a row lock."""
        C = t.connections
        with write_transaction(self.crm.engine) as conn:
            q = sa.select(C.c.id, C.c.secrets).where(
                C.c.org_id == self.crm.org_id, C.c.name_key == key
            )
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()
            row = conn.execute(q).first()
            if row is None:
                return
            secrets = dict(row.secrets or {})
            secrets[field] = self._keyring().encrypt(value, self._context(key, field))
            conn.execute(C.update().where(C.c.id == row.id).values(secrets=secrets))

    def delete(self, name: str) -> bool:
        C = t.connections
        key = str(name).lower()
        with write_transaction(self.crm.engine) as conn:
            n = conn.execute(
                C.delete().where(C.c.org_id == self.crm.org_id, C.c.name_key == key)
            ).rowcount
        with self._lock:
            self._authorizers.pop(key, None)
        return bool(n)


# --------------------------------------------------------------------------------------------
# Attachments


class DbAttachments(AttachmentStore):
    """Files of ``zoho.crm.attachFile`` (``record_attachments``); deleted with their record."""

    def __init__(self, crm: Crm) -> None:
        self.crm = crm

    @staticmethod
    def _att(r: Any) -> Attachment:
        return Attachment(
            id=str(r.id),
            record_id=str(r.record_id),
            module=r.module,
            file_name=r.file_name,
            size=r.size,
            content_type=r.content_type,
            owner_id=str(r.owner_id),
            created_by=str(r.created_by),
            modified_by=str(r.modified_by),
            created_time=r.created_time,
            modified_time=r.modified_time,
        )

    def add(self, module: str, record_id: str, file: File, user_id: str) -> Attachment:
        A = t.record_attachments
        now = self.crm.now_ms()
        row = {
            "id": self.crm.ids.next_id(),
            "org_id": self.crm.org_id,
            "record_id": int(record_id),
            "module": module,
            "file_name": file.name[:255],
            "content_type": (file.content_type or "application/octet-stream")[:200],
            "size": len(file.content),
            "content": bytes(file.content),
            "owner_id": int(user_id),
            "created_by": int(user_id),
            "modified_by": int(user_id),
            "created_time": now,
            "modified_time": now,
        }
        with write_transaction(self.crm.engine) as conn:
            conn.execute(A.insert().values(**row))
        from .live_host import COLLECTOR

        changes = COLLECTOR.get()
        if changes is not None:
            changes[str(row["id"])] = {
                "action": "attached",
                "module": module,
                "id": str(record_id),
                "workflow": False,
            }
        return self._att(_Obj(row))

    def list(self, record_id: str) -> list[Attachment]:
        A = t.record_attachments
        cols = [c for c in A.c if c.name != "content"]
        with read_transaction(self.crm.engine) as conn:
            rows = conn.execute(
                sa.select(*cols)
                .where(A.c.org_id == self.crm.org_id, A.c.record_id == int(record_id))
                .order_by(A.c.id.desc())
            ).all()
        return [self._att(r) for r in rows]

    def content(self, attachment_id: str) -> bytes | None:
        A = t.record_attachments
        with read_transaction(self.crm.engine) as conn:
            return conn.execute(
                sa.select(A.c.content).where(
                    A.c.org_id == self.crm.org_id, A.c.id == int(attachment_id)
                )
            ).scalar()


class _Obj:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
