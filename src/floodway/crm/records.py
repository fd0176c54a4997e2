"""Records: create, read, update, upsert, delete, related records (compat §5).

Every write call is one transaction: rows are validated (per-type values, mandatory fields,
lookups that exist, unique fields), the valid ones are written, and each written record emits a
``RecordChange`` event inside the transaction (``crm.events``). A row with an error is reported
in its place and skipped; it never rolls back the others. Reads are in ``reading.py``, the
write path in ``writing.py``.

Creates and updates (also upserts and links) first pass the optional pre-write hook
(``before_write``, the automation layer's validation rules) **before** the write transaction
opens, so no script runs while a write lock is held (security.md DOS-4). The hook sees each row
as it will be saved and may block rows; the write then checks that every validated record is
still the version that was validated, and validates again when it is not.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.db import PlannerStatistics, read_transaction, write_transaction

from . import schema as t
from .errors import (
    MSG_INVALID_ID,
    MSG_MANDATORY,
    CrmError,
    limit_exceeded,
    row_error,
    row_success,
)
from .reading import RECORD_COLUMNS, Page, Reader, fields_filter, parse_ids
from .standard import ModuleDef
from .values import id_of
from .writing import Planned, StaleWrite, WriteCall

if TYPE_CHECKING:
    from .service import Actor, Crm

R = t.records
MAX_ROWS: Final = 100
VALIDATION_ROUNDS: Final = 3  # validate again at most twice when records change meanwhile
# Module-level names: inside ``Records``, ``list`` is the method.
Pairs: TypeAlias = list[tuple[int, Any]]  # (row index, submitted row)
Results: TypeAlias = list[dict[str, Any]]
Planning: TypeAlias = list[tuple[Planned, "PendingWrite"]]


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """One row of a create or update as it will be saved, shown to the pre-write hook.

    ``record`` is in the REST record shape (what ``get`` returns) with the submitted changes
    applied to the stored values; its ``id`` is None on create. ``index`` is the row's position
    in the write call (the position of its result)."""

    index: int
    operation: str  # "create" | "update"
    record_id: str | None
    record: dict[str, Any]


class BeforeWrite(Protocol):
    """The pre-write hook (``Records.set_before_write``)."""

    def applies(self, module: str) -> bool:
        """Whether writes of ``module`` need ``check`` at all (cheap: called on every write)."""
        ...

    def check(
        self, module: str, writes: Sequence[PendingWrite], actor: Actor
    ) -> Mapping[int, dict[str, Any]]:
        """Row index -> row error for each blocked row; rows not named are written."""
        ...


def _check_rows(rows: Any) -> list[Any]:
    if not isinstance(rows, list) or not rows:
        raise CrmError("MANDATORY_NOT_FOUND", MSG_MANDATORY, {"api_name": "data"})
    if len(rows) > MAX_ROWS:
        raise limit_exceeded(MAX_ROWS)
    return rows


class Records:
    """The records service of one org (``crm.records``)."""

    def __init__(self, crm: Crm) -> None:
        self.crm = crm
        self.reader = Reader(crm)
        self.statistics = PlannerStatistics(crm.engine)
        self.before_write: BeforeWrite | None = None

    def set_before_write(self, hook: BeforeWrite | None) -> Callable[[], None]:
        """Install the pre-write hook (one per CRM); returns a function that removes it."""
        self.before_write = hook

        def remove() -> None:
            if self.before_write is hook:
                self.before_write = None

        return remove

    # ------------------------------------------------------------------ reads

    def get(self, module: str, record_id: Any, *, fields: Any = None) -> dict[str, Any] | None:
        return self.reader.get(module, record_id, fields)

    def list(
        self,
        module: str,
        *,
        fields: Any = None,
        page: int | None = None,
        per_page: int | None = None,
        page_token: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        ids: Any = None,
        converted: Any = None,
        modified_since: Any = None,
        actor: Actor | None = None,
    ) -> Page:
        mod = self.crm.metadata.module(module)
        where = self.reader.base_filters(mod, converted, ids, modified_since)
        bound = {
            "fields": sorted(fields_filter(fields) or ()),
            "ids": parse_ids(ids) if ids is not None else None,
            "converted": converted,
            "since": str(modified_since) if modified_since is not None else None,
        }
        return self.reader.listing(
            mod,
            where,
            fields=fields,
            page=page,
            per_page=per_page,
            page_token=page_token,
            sort_by=sort_by,
            sort_order=sort_order,
            bound=bound,
            user_id=actor.user_id if actor else None,
        )

    def search(
        self,
        module: str,
        *,
        criteria: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        word: str | None = None,
        page: int | None = None,
        per_page: int | None = None,
        fields: Any = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        converted: Any = None,
    ) -> Page:
        mod = self.crm.metadata.module(module)
        where = self.reader.base_filters(mod, converted, None, None)
        where.append(self.reader.search_filter(mod, criteria, email, phone, word))
        result = self.reader.listing(
            mod,
            where,
            fields=fields,
            page=page,
            per_page=per_page,
            page_token=None,
            sort_by=sort_by,
            sort_order=sort_order,
            bound={},
            user_id=None,
            cap=self.reader_cap,
        )
        keep = ("per_page", "count", "page", "more_records")
        result.info = {k: result.info[k] for k in keep}
        return result

    reader_cap: Final = 2000

    def count(self, module: str, *, criteria: str | None = None, cap: int = 10_000) -> int:
        """How many records of ``module`` match ``criteria`` (all of them when None), counted
        up to ``cap``: a result of ``cap`` means "at least". Like ``search``, converted leads
        are left out and criteria errors are ``search``'s."""
        mod = self.crm.metadata.module(module)
        where = self.reader.base_filters(mod, None, None, None)
        if criteria is not None and criteria.strip():
            where.append(self.reader.search_filter(mod, criteria, None, None, None))
        R = t.records
        matching = sa.select(R.c.id).where(*where).limit(cap).subquery()
        with read_transaction(self.crm.engine) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(matching)).scalar_one())

    def related(
        self,
        module: str,
        record_id: Any,
        related_list: str,
        *,
        fields: Any = None,
        page: int | None = None,
        per_page: int | None = None,
        page_token: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        ids: Any = None,
        actor: Actor | None = None,
    ) -> Page | None:
        """Records of a related list; None when the parent does not exist."""
        mod = self.crm.metadata.module(module)
        rl = self.crm.metadata.related_list(mod, related_list)
        if rl.kind == "attachments":
            raise CrmError("NOT_SUPPORTED", "not supported", {"api_name": "Attachments"})
        parent = id_of(record_id)
        if parent is None:
            return None
        with self.crm.engine.connect() as conn:
            exists = conn.execute(
                sa.select(R.c.id).where(R.c.id == parent, R.c.module_id == int(mod.id))
            ).first()
        if exists is None:
            return None
        child = self.crm.metadata.module(rl.child)
        field_ids = [self.crm.metadata.field_id(child.api_name, f) for f in rl.fields]
        where = self.reader.base_filters(child, "both", ids, None)
        refs = sa.select(t.record_refs.c.record_id).where(
            t.record_refs.c.target_id == parent, t.record_refs.c.field_id.in_(field_ids)
        )
        where.append(R.c.id.in_(refs))
        return self.reader.listing(
            child,
            where,
            fields=fields,
            page=page,
            per_page=per_page,
            page_token=page_token,
            sort_by=sort_by,
            sort_order=sort_order,
            bound={
                "fields": sorted(fields_filter(fields) or ()),
                "ids": parse_ids(ids) if ids is not None else None,
                "parent": str(parent),
                "list": rl.api_name,
            },
            user_id=actor.user_id if actor else None,
        )

    # ------------------------------------------------------------------ writes

    def create(self, module: str, rows: Any, *, actor: Actor) -> list[dict[str, Any]]:
        mod = self.crm.metadata.module(module)
        rows = _check_rows(rows)
        results = self._guarded(
            mod, actor, list(enumerate(rows)), "create", lambda ctx, todo: ctx.create(todo)
        )
        self.statistics.note_inserts(sum(1 for r in results if r.get("status") == "success"))
        return results

    def update(
        self,
        module: str,
        rows: Any,
        *,
        actor: Actor,
        record_id: Any = None,
        unmodified_since: _dt.datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Bulk form (each row has ``id``) or, with ``record_id``, the single form.

        ``unmodified_since`` (If-Unmodified-Since): rows whose record changed after it are
        rejected with ``INVALID_DATA`` ``{"api_name": "Modified_Time"}``."""
        mod = self.crm.metadata.module(module)
        rows = _check_rows(rows)
        if record_id is not None:
            rid = id_of(record_id)
            if rid is None:
                raise CrmError("INVALID_DATA", MSG_INVALID_ID, {"resource_path_index": 1})
            rows = [{**rows[0], "id": str(rid)} if isinstance(rows[0], dict) else rows[0]]
        since: int | None = None
        if unmodified_since is not None:
            moment = unmodified_since
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=_dt.UTC)
            since = int(moment.timestamp() * 1000) + 999
        return self._guarded(
            mod,
            actor,
            list(enumerate(rows)),
            "update",
            lambda ctx, todo: ctx.update(todo),
            unmodified_since=since,
        )

    def upsert(
        self,
        module: str,
        rows: Any,
        *,
        actor: Actor,
        duplicate_check_fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        mod = self.crm.metadata.module(module)
        rows = _check_rows(rows)
        return self._guarded(
            mod,
            actor,
            list(enumerate(rows)),
            "upsert",
            lambda ctx, todo: [ctx.upsert_one(i, row, duplicate_check_fields) for i, row in todo],
            duplicate_check_fields=duplicate_check_fields,
            serialize=True,
        )

    def _guarded(
        self,
        mod: ModuleDef,
        actor: Actor,
        pairs: Pairs,
        operation: str,
        write: Callable[[WriteCall, Pairs], Results],
        *,
        duplicate_check_fields: Sequence[str] | None = None,
        unmodified_since: int | None = None,
        serialize: bool = False,
    ) -> Results:
        """Run the pre-write hook (no transaction open), then ``write`` the rows it did not
        block in one transaction; results in the order of ``pairs``."""
        hook = self.before_write
        if hook is None or not hook.applies(mod.api_name):
            with write_transaction(self.crm.engine) as conn:
                ctx = WriteCall(self, conn, mod, actor, serialize=serialize)
                ctx.unmodified_since = unmodified_since
                return write(ctx, pairs)
        for round_no in range(VALIDATION_ROUNDS):
            planned = self._plan(mod, actor, pairs, operation, duplicate_check_fields)
            pending = [w for _, w in planned]
            results: dict[int, dict[str, Any]] = dict(
                hook.check(mod.api_name, pending, actor) if pending else {}
            )
            todo = [(i, row) for i, row in pairs if i not in results]
            if todo:
                try:
                    with write_transaction(self.crm.engine) as conn:
                        ctx = WriteCall(self, conn, mod, actor, serialize=serialize)
                        ctx.unmodified_since = unmodified_since
                        ctx.expect = {
                            p.index: (p.record_id, p.modified_time)
                            for p, _ in planned
                            if p.index not in results
                        }
                        ctx.stale_fails = round_no == VALIDATION_ROUNDS - 1
                        written = write(ctx, todo)
                except StaleWrite:
                    continue  # a record changed after it was validated: validate again
                results.update(zip((i for i, _ in todo), written, strict=True))
            return [results[i] for i, _ in pairs]
        raise AssertionError("unreachable: the last round never raises StaleWrite")

    def planned(
        self, module: str, row: Mapping[str, Any], *, actor: Actor, record_id: Any = None
    ) -> PendingWrite | None:
        """``row`` as a save would show it to validation rules — an update of ``record_id``
        or, without one, a create — without writing. None when the save would refuse the row
        before that (a value that does not fit its field, a missing mandatory field, an
        unknown record)."""
        mod = self.crm.metadata.module(module)
        body = dict(row)
        if record_id is not None:
            body["id"] = str(record_id)
        planned = self._plan(
            mod, actor, [(0, body)], "create" if record_id is None else "update", None
        )
        return planned[0][1] if planned else None

    def _plan(
        self,
        mod: ModuleDef,
        actor: Actor,
        pairs: Pairs,
        operation: str,
        duplicate_check_fields: Sequence[str] | None,
    ) -> Planning:
        """The rows as they will be saved (read only, no locks), in REST record shape."""
        with read_transaction(self.crm.engine) as conn:
            ctx = WriteCall(self, conn, mod, actor, lock=False)
            planned = ctx.plan(pairs, operation, duplicate_check_fields)
            if not planned:
                return []
            now = ctx.now
            shown = [
                SimpleNamespace(
                    id=p.record_id or 0,
                    data=p.data,
                    owner_id=p.owner_id,
                    created_by=p.existing.created_by if p.existing is not None else ctx.user_id,
                    created_time=(p.existing.created_time if p.existing is not None else now),
                    modified_by=ctx.user_id,
                    modified_time=now,
                )
                for p in planned
            ]
            records = self.reader.render(conn, ctx.mod, shown)
        out = []
        for p, record in zip(planned, records, strict=True):
            rid = str(p.record_id) if p.record_id is not None else None
            record["id"] = rid
            out.append((p, PendingWrite(p.index, p.operation, rid, record)))
        return out

    def delete(self, module: str, ids: Any, *, actor: Actor) -> list[dict[str, Any]]:
        mod = self.crm.metadata.module(module)
        items = ids.split(",") if isinstance(ids, str) else list(ids or [])
        items = [x for x in items if not (isinstance(x, str) and not x.strip())]
        if not items:
            raise CrmError(
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "ids"},
            )
        if len(items) > MAX_ROWS:
            raise limit_exceeded(MAX_ROWS)
        with write_transaction(self.crm.engine) as conn:
            ctx = WriteCall(self, conn, mod, actor)
            return ctx.delete(items)

    def link(
        self, module: str, record_id: Any, related_list: str, rows: Any, *, actor: Actor
    ) -> list[dict[str, Any]]:
        """Point each child ``{"id": …, fields…}`` of a lookup-based related list at the parent."""
        mod = self.crm.metadata.module(module)
        rl = self.crm.metadata.related_list(mod, related_list)
        if rl.kind not in ("lookup", "notes", "activities"):
            raise CrmError("NOT_SUPPORTED", "not supported", {"api_name": rl.api_name})
        rows = _check_rows(rows)
        parent = id_of(record_id)
        child = self.crm.metadata.module(rl.child)
        link_field = self._link_field(mod, child, rl.fields)
        changes: list[tuple[int, Any]] = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                changes.append((i, row))
                continue
            values = {k: v for k, v in row.items()}
            values[link_field] = str(parent)
            if child.field(link_field) and child.fields[link_field].type == "parent":
                values["$se_module"] = mod.api_name
            changes.append((i, values))

        def write(ctx: WriteCall, todo: list[tuple[int, Any]]) -> list[dict[str, Any]]:
            if parent is None or not self._exists(ctx.conn, mod, parent):
                raise CrmError("INVALID_DATA", MSG_INVALID_ID, {"resource_path_index": 1})
            return ctx.update(todo)

        if self.before_write is not None:  # no validation runs for a parent that is not there
            with read_transaction(self.crm.engine) as conn:
                if parent is None or not self._exists(conn, mod, parent):
                    raise CrmError("INVALID_DATA", MSG_INVALID_ID, {"resource_path_index": 1})
        results = self._guarded(child, actor, changes, "update", write)
        out = []
        for res in results:
            if res["status"] == "success":
                out.append(row_success({"id": res["details"]["id"]}, "relation added"))
            else:
                out.append(res)
        return out

    def unlink(
        self, module: str, record_id: Any, related_list: str, ids: Any, *, actor: Actor
    ) -> list[dict[str, Any]]:
        mod = self.crm.metadata.module(module)
        rl = self.crm.metadata.related_list(mod, related_list)
        if rl.kind not in ("lookup", "activities"):
            raise CrmError("NOT_SUPPORTED", "not supported", {"api_name": rl.api_name})
        child_ids = parse_ids(ids)
        if not child_ids:
            raise CrmError(
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "ids"},
            )
        parent = id_of(record_id)
        child = self.crm.metadata.module(rl.child)
        with write_transaction(self.crm.engine) as conn:
            if parent is None or not self._exists(conn, mod, parent):
                raise CrmError("INVALID_DATA", MSG_INVALID_ID, {"resource_path_index": 1})
            current = {
                r.id: r
                for r in conn.execute(
                    sa.select(*RECORD_COLUMNS).where(
                        R.c.id.in_(child_ids), R.c.module_id == int(child.id)
                    )
                ).all()
            }
            changes = []
            out: list[dict[str, Any] | None] = []
            for cid in child_ids:
                row = current.get(cid)
                linked = [
                    f for f in rl.fields if row is not None and row.data.get(f) == str(parent)
                ]
                if not linked:
                    out.append(
                        row_error(
                            "INVALID_DATA", {"id": str(cid)}, "the id given seems to be invalid"
                        )
                    )
                    continue
                values: dict[str, Any] = {"id": str(cid)}
                for f in linked:
                    values[f] = None
                changes.append((len(out), values))
                out.append(None)
            if changes:
                ctx = WriteCall(self, conn, child, actor)
                for (pos, _), res in zip(changes, ctx.update(changes), strict=True):
                    out[pos] = (
                        row_success({"id": res["details"]["id"]}, "relation removed")
                        if res["status"] == "success"
                        else res
                    )
        return [r for r in out if r is not None]

    @staticmethod
    def _exists(conn: Connection, mod: ModuleDef, rid: int) -> bool:
        q = sa.select(R.c.id).where(R.c.id == rid, R.c.module_id == int(mod.id))
        return conn.execute(q).first() is not None

    @staticmethod
    def _link_field(parent: ModuleDef, child: ModuleDef, fields: tuple[str, ...]) -> str:
        for name in fields:
            f = child.fields[name]
            if f.type == "lookup" and parent.api_name in f.targets:
                return name
        for name in fields:
            if child.fields[name].type == "parent":
                return name
        return fields[0]
