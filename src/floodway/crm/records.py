"""Records: create, read, update, upsert, delete, related records (compat §5).

Every write call is one transaction: rows are validated (per-type values, mandatory fields,
lookups that exist, unique fields), the valid ones are written, and each written record emits a
``RecordChange`` event inside the transaction (``crm.events``). A row with an error is reported
in its place and skipped; it never rolls back the others. Reads are in ``reading.py``, the
write path in ``writing.py``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.db import PlannerStatistics, write_transaction

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
from .writing import WriteCall

if TYPE_CHECKING:
    from .service import Actor, Crm

R = t.records
MAX_ROWS: Final = 100


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
        with write_transaction(self.crm.engine) as conn:
            ctx = WriteCall(self, conn, mod, actor)
            results = ctx.create(list(enumerate(rows)))
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
        with write_transaction(self.crm.engine) as conn:
            ctx = WriteCall(self, conn, mod, actor)
            if unmodified_since is not None:
                moment = unmodified_since
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=_dt.UTC)
                ctx.unmodified_since = int(moment.timestamp() * 1000) + 999
            return ctx.update(list(enumerate(rows)))

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
        with write_transaction(self.crm.engine) as conn:
            ctx = WriteCall(self, conn, mod, actor, serialize=True)
            return [ctx.upsert_one(i, row, duplicate_check_fields) for i, row in enumerate(rows)]

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
        with write_transaction(self.crm.engine) as conn:
            if parent is None or not self._exists(conn, mod, parent):
                raise CrmError("INVALID_DATA", MSG_INVALID_ID, {"resource_path_index": 1})
            link_field = self._link_field(mod, child, rl.fields)
            changes = []
            for i, row in enumerate(rows):
                if not isinstance(row, dict):
                    changes.append((i, row))
                    continue
                values = {k: v for k, v in row.items()}
                values[link_field] = str(parent)
                if child.field(link_field) and child.fields[link_field].type == "parent":
                    values["$se_module"] = mod.api_name
                changes.append((i, values))
            ctx = WriteCall(self, conn, child, actor)
            results = ctx.update(changes)
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
