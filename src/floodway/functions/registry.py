"""The function registry: functions of an org and their immutable versions.

A function is identified by its api name (unique per org, compared case-insensitively). Every
save of a changed source adds a version (number = latest + 1) as a draft; publishing makes one
version live, and publishing an older number is a rollback (functions-platform.md §1). A source
that does not compile is never stored: the error names its line and column.

The header facts (category, return type, arguments) are kept per version and copied to the
function from its live version (or its latest one while none is live), so listings need no
compile. Compiled programs stay in memory only (SB-6): ``compile_program`` caches by source,
and ``live()`` keeps the live version of each function for a short TTL so the executor's hot
path does no query; writes made through this object drop that cache at once, other nodes see a
publish within the TTL.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from floodway.db import read_transaction, write_transaction
from floodway.deluge import DelugeSyntaxError, Program, compile_program

from . import schema as t
from .model import (
    FunctionInfo,
    FunctionsError,
    LiveFunction,
    SaveResult,
    VersionInfo,
)

if TYPE_CHECKING:
    from floodway.crm.service import Crm

CATEGORIES: Final = (
    "standalone",
    "automation",
    "button",
    "related_list",
    "schedule",
    "validation",
)
REST_AUTH: Final = ("any", "oauth")
_API_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_UNSET: Final[Any] = object()
F = t.functions
V = t.function_versions


@dataclass(frozen=True, slots=True)
class _Header:
    program: Program
    category: str
    return_type: str | None
    arguments: tuple[tuple[str, str | None], ...]
    sha256: str


def _sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


def compile_source(source: str, api_name: str | None) -> _Header:
    """Compile ``source``; ``SYNTAX_ERROR`` with line/column, ``INVALID_DATA`` for a header
    naming another function."""
    if not isinstance(source, str):
        raise FunctionsError("INVALID_DATA", "source must be text", {"field": "source"})
    name = api_name or "main"
    try:
        program = compile_program(source, name=name)
    except DelugeSyntaxError as exc:
        raise FunctionsError(
            "SYNTAX_ERROR",
            exc.message,
            {"kind": "syntax", "line": exc.line, "column": exc.column, "excerpt": exc.excerpt},
        ) from None
    if program.return_type is None and api_name is None:
        raise FunctionsError(
            "INVALID_DATA",
            "api_name is required for a script without a header",
            {"field": "api_name"},
        )
    if api_name is not None and program.api_name.lower() != api_name.lower():
        raise FunctionsError(
            "INVALID_DATA",
            f"The header names '{program.api_name}' but the function is '{api_name}'",
            {"field": "source"},
        )
    if program.return_type is None:
        args: tuple[tuple[str, str | None], ...] = tuple((n, None) for n in program.implicit_args)
        rtype = None
    else:
        args = tuple((n, ty) for n, ty in program.params)
        rtype = program.return_type.lower()
    return _Header(program, program.category, rtype, args, _sha256(source))


def _check_api_name(api_name: Any) -> str:
    if not isinstance(api_name, str) or not _API_NAME.fullmatch(api_name):
        raise FunctionsError(
            "INVALID_DATA",
            "api_name must start with a letter or '_' and hold only letters, digits and '_' "
            "(at most 100 characters)",
            {"field": "api_name"},
        )
    return api_name


def _check_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is _UNSET:
            continue
        if key == "display_name":
            if not isinstance(value, str) or not value.strip() or len(value) > 200:
                raise FunctionsError(
                    "INVALID_DATA", "display_name must be 1 to 200 characters", {"field": key}
                )
            out[key] = value.strip()
        elif key == "description":
            if value is None:
                value = ""
            if not isinstance(value, str) or len(value) > 10_000:
                raise FunctionsError(
                    "INVALID_DATA", "description must be text (10,000 characters)", {"field": key}
                )
            out[key] = value
        elif key == "rest_enabled":
            if not isinstance(value, bool):
                raise FunctionsError(
                    "INVALID_DATA", "rest_enabled must be true or false", {"field": key}
                )
            out[key] = value
        elif key == "rest_auth":
            if value not in REST_AUTH:
                raise FunctionsError(
                    "INVALID_DATA", "rest_auth must be 'any' or 'oauth'", {"field": key}
                )
            out[key] = value
        elif key == "timeout_s":
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value <= 86_400
            ):
                raise FunctionsError(
                    "INVALID_DATA",
                    "timeout_s must be a number of seconds between 0 and 86400",
                    {"field": key},
                )
            out[key] = None if value is None else float(value)
        elif key == "settings":
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise FunctionsError("INVALID_DATA", "settings must be an object", {"field": key})
            out[key] = value
        else:
            raise FunctionsError("INVALID_DATA", f"unknown function field '{key}'", {"field": key})
    return out


class Registry:
    """Functions and versions of one org (``fx.registry``)."""

    def __init__(self, crm: Crm, cache_ttl_s: float = 1.0) -> None:
        self.crm = crm
        self.cache_ttl_s = cache_ttl_s
        self._lock = threading.Lock()
        self._live: dict[str, tuple[float, LiveFunction | None]] = {}

    # ------------------------------------------------------------------ rows

    def _info(self, row: Any) -> FunctionInfo:
        return FunctionInfo(
            id=str(row.id),
            api_name=row.api_name,
            display_name=row.display_name,
            description=row.description,
            category=row.category,
            return_type=row.return_type,
            arguments=tuple((a["name"], a.get("type")) for a in row.arguments or []),
            rest_enabled=bool(row.rest_enabled),
            rest_auth=row.rest_auth,
            timeout_s=row.timeout_s,
            settings=dict(row.settings or {}),
            live_version=row.live_version,
            latest_version=row.latest_version,
            created_time=row.created_time,
            modified_time=row.modified_time,
            created_by=row.created_by,
            modified_by=row.modified_by,
        )

    @staticmethod
    def _version(row: Any, fn: Any, source: bool = False) -> VersionInfo:
        return VersionInfo(
            id=str(row.id),
            function_id=str(row.function_id),
            api_name=fn.api_name,
            number=row.number,
            sha256=row.sha256,
            author=row.author,
            status=row.status,
            live=fn.live_version == row.number,
            category=row.category,
            return_type=row.return_type,
            arguments=tuple((a["name"], a.get("type")) for a in row.arguments or []),
            created_time=row.created_time,
            published_time=row.published_time,
            source=row.source if source else None,
        )

    def _row(self, conn: sa.Connection, api_name: str, lock: bool = False) -> Any:
        if not isinstance(api_name, str):
            return None
        q = sa.select(F).where(F.c.org_id == self.crm.org_id, F.c.api_key == api_name.lower())
        if lock and conn.dialect.name == "postgresql":
            q = q.with_for_update()
        return conn.execute(q).first()

    def _need(self, conn: sa.Connection, api_name: str, lock: bool = False) -> Any:
        row = self._row(conn, api_name, lock)
        if row is None:
            raise FunctionsError(
                "NOT_FOUND", f"Function '{api_name}' does not exist", {"api_name": api_name}
            )
        return row

    def _version_row(self, conn: sa.Connection, function_id: int, number: int) -> Any:
        return conn.execute(
            sa.select(V).where(V.c.function_id == function_id, V.c.number == number)
        ).first()

    def invalidate(self) -> None:
        with self._lock:
            self._live = {}

    # ------------------------------------------------------------------ reads

    def list(self, category: str | None = None) -> list[FunctionInfo]:
        q = sa.select(F).where(F.c.org_id == self.crm.org_id).order_by(F.c.api_key)
        if category is not None:
            q = q.where(F.c.category == category)
        with read_transaction(self.crm.engine) as conn:
            return [self._info(r) for r in conn.execute(q).all()]

    def find(self, api_name: str) -> FunctionInfo | None:
        with read_transaction(self.crm.engine) as conn:
            row = self._row(conn, api_name)
        return self._info(row) if row is not None else None

    def get(self, api_name: str) -> FunctionInfo:
        with read_transaction(self.crm.engine) as conn:
            return self._info(self._need(conn, api_name))

    def versions(self, api_name: str) -> builtins.list[VersionInfo]:
        with read_transaction(self.crm.engine) as conn:
            fn = self._need(conn, api_name)
            rows = conn.execute(
                sa.select(*[c for c in V.c if c.name != "source"])
                .where(V.c.function_id == fn.id)
                .order_by(V.c.number.desc())
            ).all()
        return [self._version(r, fn) for r in rows]

    def version(self, api_name: str, number: int | None = None) -> VersionInfo:
        """A version with its source; ``None``: the live one, else the latest."""
        with read_transaction(self.crm.engine) as conn:
            fn = self._need(conn, api_name)
            n = number if number is not None else (fn.live_version or fn.latest_version)
            row = self._version_row(conn, fn.id, n) if isinstance(n, int) else None
            if row is None:
                raise FunctionsError(
                    "NOT_FOUND",
                    f"Function '{fn.api_name}' has no version {number}",
                    {"api_name": fn.api_name, "version": number},
                )
            return self._version(row, fn, source=True)

    def program(self, version: VersionInfo) -> Program:
        """The compiled program of a version (compiled again from its stored source: SB-6)."""
        if version.source is None:
            version = self.version(version.api_name, version.number)
        assert version.source is not None
        name = version.api_name
        try:
            return compile_program(version.source, name=name)
        except DelugeSyntaxError as exc:  # stored source that the current compiler refuses
            raise FunctionsError(
                "SYNTAX_ERROR",
                exc.message,
                {"kind": "syntax", "line": exc.line, "column": exc.column, "excerpt": exc.excerpt},
            ) from None

    def runnable(self, api_name: str, number: int | None = None) -> LiveFunction:
        """Function, version (live unless ``number``) and program; ``NOT_FOUND`` /
        ``NO_LIVE_VERSION``."""
        if number is None:
            live = self.live(api_name)
            if live is not None:
                return live
            fn = self.get(api_name)  # NOT_FOUND when missing
            raise FunctionsError(
                "NO_LIVE_VERSION",
                f"Function '{fn.api_name}' has no published version",
                {"api_name": fn.api_name},
            )
        with read_transaction(self.crm.engine) as conn:
            fn = self._need(conn, api_name)
            row = self._version_row(conn, fn.id, number)
            if row is None:
                raise FunctionsError(
                    "NOT_FOUND",
                    f"Function '{fn.api_name}' has no version {number}",
                    {"api_name": fn.api_name, "version": number},
                )
            version = self._version(row, fn, source=True)
            info = self._info(fn)
        return LiveFunction(info, version, self.program(version))

    def live(self, api_name: str) -> LiveFunction | None:
        """The live version of ``api_name`` (None: no such function or nothing published)."""
        if not isinstance(api_name, str):
            return None
        key = api_name.lower()
        now = time.monotonic()
        hit = self._live.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        found: LiveFunction | None = None
        with read_transaction(self.crm.engine) as conn:
            fn = self._row(conn, key)
            if fn is not None and fn.live_version is not None:
                row = self._version_row(conn, fn.id, fn.live_version)
                if row is not None:
                    version = self._version(row, fn, source=True)
                    found = LiveFunction(self._info(fn), version, self.program(version))
        with self._lock:
            if len(self._live) > 10_000:
                self._live = {}
            self._live[key] = (now + self.cache_ttl_s, found)
        return found

    # ------------------------------------------------------------------ writes

    def create(
        self,
        source: str,
        *,
        api_name: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        rest_enabled: bool = False,
        rest_auth: str = "any",
        timeout_s: float | None = None,
        settings: dict[str, Any] | None = None,
        author: str | None = None,
        publish: bool = False,
    ) -> SaveResult:
        if api_name is not None:
            _check_api_name(api_name)
        header = compile_source(source, api_name)
        name = _check_api_name(api_name or header.program.api_name)
        fields = _check_fields(
            {
                "display_name": display_name if display_name is not None else name,
                "description": description,
                "rest_enabled": rest_enabled,
                "rest_auth": rest_auth,
                "timeout_s": timeout_s,
                "settings": settings,
            }
        )
        with write_transaction(self.crm.engine) as conn:
            if self._row(conn, name) is not None:
                raise FunctionsError(
                    "DUPLICATE_DATA", f"Function '{name}' already exists", {"api_name": name}
                )
            try:
                result = self._insert(conn, name, source, header, fields, author, publish)
            except sa.exc.IntegrityError:
                raise FunctionsError(
                    "DUPLICATE_DATA", f"Function '{name}' already exists", {"api_name": name}
                ) from None
        self.invalidate()
        return result

    def _insert(
        self,
        conn: sa.Connection,
        name: str,
        source: str,
        header: _Header,
        fields: dict[str, Any],
        author: str | None,
        publish: bool,
    ) -> SaveResult:
        now = self.crm.now_ms()
        fid = self.crm.ids.next_id()
        args = [{"name": n, "type": ty} for n, ty in header.arguments]
        conn.execute(
            F.insert().values(
                id=fid,
                org_id=self.crm.org_id,
                api_name=name,
                api_key=name.lower(),
                display_name=fields["display_name"],
                description=fields.get("description") or "",
                category=header.category,
                return_type=header.return_type,
                arguments=args,
                rest_enabled=fields.get("rest_enabled", False),
                rest_auth=fields.get("rest_auth", "any"),
                timeout_s=fields.get("timeout_s"),
                settings=fields.get("settings") or {},
                live_version=1 if publish else None,
                latest_version=1,
                created_time=now,
                modified_time=now,
                created_by=author,
                modified_by=author,
            )
        )
        self._insert_version(conn, fid, 1, source, header, author, publish, now)
        fn = self._need(conn, name)
        version = self._version(self._version_row(conn, fid, 1), fn)
        return SaveResult(self._info(fn), version, True, True, publish)

    def _insert_version(
        self,
        conn: sa.Connection,
        function_id: int,
        number: int,
        source: str,
        header: _Header,
        author: str | None,
        publish: bool,
        now: int,
    ) -> None:
        conn.execute(
            V.insert().values(
                id=self.crm.ids.next_id(),
                function_id=function_id,
                number=number,
                source=source,
                sha256=header.sha256,
                author=author,
                status="published" if publish else "draft",
                category=header.category,
                return_type=header.return_type,
                arguments=[{"name": n, "type": ty} for n, ty in header.arguments],
                created_time=now,
                published_time=now if publish else None,
            )
        )

    def save(
        self,
        api_name: str,
        source: str,
        *,
        author: str | None = None,
        publish: bool = False,
        create: bool = False,
        **function_fields: Any,
    ) -> SaveResult:
        """A new draft version unless the source equals the latest version's; ``publish``
        also makes the resulting version live; ``create`` creates a missing function."""
        _check_api_name(api_name)
        header = compile_source(source, api_name)
        fields = _check_fields(function_fields)
        with write_transaction(self.crm.engine) as conn:
            fn = self._row(conn, api_name, lock=True)
            if fn is None:
                if not create:
                    raise FunctionsError(
                        "NOT_FOUND", f"Function '{api_name}' does not exist", {"api_name": api_name}
                    )
                fields.setdefault("display_name", header.program.api_name)
                name = header.program.api_name if header.program.return_type else api_name
                result = self._insert(conn, name, source, header, fields, author, publish)
                self.invalidate()
                return result
            now = self.crm.now_ms()
            latest = self._version_row(conn, fn.id, fn.latest_version)
            created = latest is None or latest.sha256 != header.sha256 or latest.source != source
            number = fn.latest_version + 1 if created else fn.latest_version
            if created:
                self._insert_version(conn, fn.id, number, source, header, author, False, now)
            changes: dict[str, Any] = dict(fields)
            published = False
            if publish and fn.live_version != number:
                self._publish(conn, fn, number, now)
                published = True
            elif fn.live_version is None and created:
                changes.update(
                    category=header.category,
                    return_type=header.return_type,
                    arguments=[{"name": n, "type": ty} for n, ty in header.arguments],
                )
            if created or changes:
                changes.update(latest_version=number, modified_time=now, modified_by=author)
                conn.execute(F.update().where(F.c.id == fn.id).values(**changes))
            fn = self._need(conn, api_name)
            version = self._version(self._version_row(conn, fn.id, number), fn)
            result = SaveResult(self._info(fn), version, False, created, published)
        self.invalidate()
        return result

    def update(self, api_name: str, **fields: Any) -> FunctionInfo:
        """Change display name, description, REST exposure, timeout or settings."""
        changes = _check_fields(fields)
        with write_transaction(self.crm.engine) as conn:
            fn = self._need(conn, api_name, lock=True)
            if changes:
                changes["modified_time"] = self.crm.now_ms()
                conn.execute(F.update().where(F.c.id == fn.id).values(**changes))
            info = self._info(self._need(conn, api_name))
        self.invalidate()
        return info

    def _publish(self, conn: sa.Connection, fn: Any, number: int, now: int) -> None:
        row = self._version_row(conn, fn.id, number)
        if row is None:
            raise FunctionsError(
                "NOT_FOUND",
                f"Function '{fn.api_name}' has no version {number}",
                {"api_name": fn.api_name, "version": number},
            )
        compile_source(row.source, fn.api_name)  # the compiler may have become stricter
        conn.execute(
            V.update()
            .where(V.c.id == row.id)
            .values(status="published", published_time=row.published_time or now)
        )
        conn.execute(
            F.update()
            .where(F.c.id == fn.id)
            .values(
                live_version=number,
                category=row.category,
                return_type=row.return_type,
                arguments=row.arguments,
                modified_time=now,
            )
        )

    def publish(
        self, api_name: str, number: int | None = None, *, author: str | None = None
    ) -> FunctionInfo:
        """Make version ``number`` (default: the latest) live; an older one is a rollback."""
        if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
            raise FunctionsError("INVALID_DATA", "version must be a number", {"field": "version"})
        with write_transaction(self.crm.engine) as conn:
            fn = self._need(conn, api_name, lock=True)
            n = number if number is not None else fn.latest_version
            self._publish(conn, fn, n, self.crm.now_ms())
            if author is not None:
                conn.execute(F.update().where(F.c.id == fn.id).values(modified_by=author))
            info = self._info(self._need(conn, api_name))
        self.invalidate()
        return info

    def delete(self, api_name: str) -> None:
        with write_transaction(self.crm.engine) as conn:
            fn = self._need(conn, api_name, lock=True)
            conn.execute(V.delete().where(V.c.function_id == fn.id))
            conn.execute(F.delete().where(F.c.id == fn.id))
        self.invalidate()
