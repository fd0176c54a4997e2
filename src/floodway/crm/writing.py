"""The write path of records: one ``WriteCall`` per write call, inside its transaction.

Validation (per-type values, mandatory fields, lookups that exist, unique fields), the SQL
writes (records, ``record_refs``), delete cascades, the Zoho success ``details`` and the
record-change events (compat §5.3-§5.6, architecture.md "One record change").
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import schema as t
from .criteria_sql import Dialect
from .errors import (
    MSG_DUPLICATE,
    MSG_INVALID_ID,
    MSG_MANDATORY,
    CrmError,
    RowError,
    row_error,
    row_success,
)
from .events import RecordChange
from .reading import RECORD_COLUMNS
from .standard import FieldDef, ModuleDef
from .values import coerce, id_of, invalid, ms_to_iso, ms_to_utc_text, same_value

if TYPE_CHECKING:
    from .records import Records
    from .service import Actor

R = t.records
_IGNORED_KEYS: Final = frozenset(
    {"id", "created_time", "modified_time", "created_by", "modified_by", "tag", "$approval_state"}
)
_TEXT_UNIQUE: Final = frozenset({"text", "textarea", "email", "phone", "url", "picklist"})


@dataclass(slots=True)
class _Prepared:
    index: int
    data: dict[str, Any]
    owner_id: int
    existing: Any | None  # the stored row for updates


@dataclass(frozen=True, slots=True)
class Planned:
    """One row of a write as it would be saved, computed without writing (``WriteCall.plan``):
    what the pre-write hook validates. ``record_id``/``modified_time`` are those of the stored
    record an update changes (None for a create); the write compares them again."""

    index: int
    operation: str  # "create" | "update"
    data: dict[str, Any]  # stored form with the submitted changes applied
    owner_id: int
    existing: Any | None
    record_id: int | None
    modified_time: int | None


class StaleWrite(Exception):
    """Internal: a row's record changed between validation and the write transaction."""


MSG_STALE: Final = "the record changed while it was being validated; save it again"


def locked(q: sa.Select[Any]) -> sa.Select[Any]:
    """``q`` reading record rows that the transaction is about to rewrite.

    A record's values are one JSON document, so every write is read, merge, write. On
    PostgreSQL two writers of one record would each merge into the version they read and the
    later commit would drop the earlier one's fields: the rows are locked as they are read (in
    id order, so writers of several records cannot deadlock) and a second writer waits, then
    reads what the first committed. SQLite's BEGIN IMMEDIATE already lets one writer in at a time.
    """
    return q.order_by(R.c.id).with_for_update(of=R)


# The statements every update runs, built once (a statement built per call costs more Python
# time than its round trip); values travel as parameters.
_ROWS = sa.select(*RECORD_COLUMNS).where(
    R.c.id.in_(sa.bindparam("ids", expanding=True)), R.c.module_id == sa.bindparam("module")
)
_LOCKED = locked(_ROWS)
_UPDATE = R.update().where(R.c.id == sa.bindparam("rid"))


def _key(row: dict[str, Any], name: str) -> tuple[bool, Any]:
    if name in row:
        return True, row[name]
    low = name.lower()
    for k, v in row.items():
        if isinstance(k, str) and k.lower() == low:
            return True, v
    return False, None


class WriteCall:
    """One write call inside its transaction."""

    def __init__(
        self,
        records: Records,
        conn: Connection,
        mod: ModuleDef,
        actor: Actor,
        *,
        serialize: bool = False,
        lock: bool = True,
    ) -> None:
        self.crm = records.crm
        self.reader = records.reader
        self.conn = conn
        self.snap = self.crm.metadata.snapshot(conn)  # metadata as of this transaction
        self.mod = self.snap.modules.get(mod.api_name, mod)
        self.actor = actor
        self.dialect = Dialect(conn.dialect.name)
        uid = id_of(actor.user_id)
        if uid is None or self.crm.users.get(uid, conn) is None:
            raise CrmError(
                "INVALID_DATA", "the actor is not a user", {"api_name": "Owner"}, status=400
            )
        self.user_id = uid
        self.now = self.crm.now_ms()
        self.events: list[RecordChange] = []
        self.unmodified_since: int | None = None
        # Row index -> (record id, modified time) the pre-write hook validated; a row whose
        # record differs now was validated against another version (security.md DOS-4).
        self.expect: dict[int, tuple[int | None, int | None]] | None = None
        self.stale_fails = False  # last round: a stale row becomes a row error, not a retry
        if (
            lock
            and conn.dialect.name == "postgresql"
            and (serialize or any(f.unique for f in self.mod.fields.values()))
        ):
            # Unique checks and upserts read before they write: writers of one module take
            # turns (SQLite's BEGIN IMMEDIATE already serialises every writer).
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(int(self.mod.id))))

    # ------------------------------------------------------------------ create / update

    def create(self, pairs: list[tuple[int, Any]]) -> list[dict[str, Any]]:
        results: dict[int, dict[str, Any]] = {}
        known = self._targets([r for _, r in pairs])
        prepared: list[_Prepared] = []
        batch_unique: dict[str, list[tuple[Any, int]]] = {}
        for i, row in pairs:
            try:
                p = self._prepare(i, row, None, known)
                self._check_unique(p, batch_unique)
                prepared.append(p)
            except RowError as e:
                results[i] = e.error
        if prepared:
            self._assign_autonumbers(prepared)
            self._insert(prepared)
            for p in prepared:
                results[p.index] = row_success(
                    self._details(p.data["__id"], self.now, self.user_id, self.now, self.user_id),
                    "record added",
                )
        self.crm.events.emit(self.conn, self.events)
        self.events = []
        return [results[i] for i, _ in pairs]

    def update(self, pairs: list[tuple[int, Any]]) -> list[dict[str, Any]]:
        results: dict[int, dict[str, Any]] = {}
        wanted: dict[int, int] = {}
        for i, row in pairs:
            if not isinstance(row, dict):
                results[i] = _not_object(i)
                continue
            present, raw = _key(row, "id")
            if not present or raw is None:
                results[i] = row_error(
                    "MANDATORY_NOT_FOUND",
                    {"api_name": "id", "json_path": f"$.data[{i}].id"},
                    MSG_MANDATORY,
                )
                continue
            rid = id_of(raw)
            if rid is None:
                results[i] = _bad_id(i)
                continue
            wanted[i] = rid
        existing = self._existing(set(wanted.values()), lock=True)
        known = self._targets([r for i, r in pairs if i in wanted])
        batch_unique: dict[str, list[tuple[Any, int]]] = {}
        changed: list[_Prepared] = []
        for i, row in pairs:
            if i in results:
                continue
            cur = existing.get(wanted[i])
            if cur is None:
                results[i] = _bad_id(i)
                continue
            if self.unmodified_since is not None and cur.modified_time > self.unmodified_since:
                results[i] = _modified_since(i)
                continue
            if self._stale(i, cur.id, cur.modified_time):
                results[i] = _stale_error(i)
                continue
            try:
                p = self._prepare(i, row, cur, known)
                self._check_unique(p, batch_unique)
            except RowError as e:
                results[i] = e.error
                continue
            if p.data == cur.data and p.owner_id == cur.owner_id:
                results[i] = row_success(
                    self._details(
                        cur.id, cur.modified_time, cur.modified_by, cur.created_time, cur.created_by
                    ),
                    "record updated",
                )
                continue
            changed.append(p)
        if changed:
            self._apply_updates(changed)
            for p in changed:
                cur = p.existing
                results[p.index] = row_success(
                    self._details(cur.id, self.now, self.user_id, cur.created_time, cur.created_by),
                    "record updated",
                )
        self.crm.events.emit(self.conn, self.events)
        self.events = []
        return [results[i] for i, _ in pairs]

    def upsert_one(
        self, i: int, row: Any, duplicate_check_fields: Sequence[str] | None
    ) -> dict[str, Any]:
        if not isinstance(row, dict):
            return _not_object(i)
        try:
            rid, dup = self._upsert_route(i, row, duplicate_check_fields)
        except RowError as e:
            return e.error
        if rid is not None:
            res = self.update([(i, row if dup is None else {**row, "id": str(rid)})])[0]
            return _with_action(res, "update", dup)
        present, raw = _key(row, "id")
        if present and raw is not None:  # an id that is not a valid id: update reports it
            return _with_action(self.update([(i, row)])[0], "update", None)
        if self._stale(i, None, None):
            return _stale_error(i)
        res = self.create([(i, row)])[0]
        return _with_action(res, "insert", None)

    def _upsert_route(
        self, i: int, row: dict[str, Any], duplicate_check_fields: Sequence[str] | None
    ) -> tuple[int | None, str | None]:
        """(record id to update, duplicate-check field that found it); (None, None) = create."""
        present, raw = _key(row, "id")
        if present and raw is not None:
            return id_of(raw), None
        names = list(duplicate_check_fields or [])
        if not names:
            names = list(self.mod.duplicate_fields)
            names += [
                f.api_name for f in self.mod.fields.values() if f.unique and f.api_name not in names
            ]
        for name in names:
            f = self.mod.field(name) if isinstance(name, str) else None
            if f is None:
                continue
            has, value = _key(row, f.api_name)
            if not has:
                continue
            stored = coerce(f, value, i)
            if stored is None:
                continue
            match = self._find_equal(f, stored, None)
            if match is not None:
                return match, f.api_name
            break  # only the first duplicate-check field with a value counts
        return None, None

    # ------------------------------------------------------------------ planning (no writes)

    def plan(
        self,
        pairs: list[tuple[int, Any]],
        operation: str,
        duplicate_check_fields: Sequence[str] | None = None,
    ) -> list[Planned]:
        """The rows of a ``create``/``update``/``upsert`` as they would be saved, for the
        pre-write hook. Rows the write will reject anyway (not an object, unknown id, invalid
        values, missing mandatory fields) are left out: they get their own row error."""
        rows = [(i, r) for i, r in pairs if isinstance(r, dict)]
        targets: dict[int, int | None] = {}
        for i, row in rows:
            if operation == "create":
                targets[i] = None
                continue
            if operation == "upsert":
                try:
                    rid, _ = self._upsert_route(i, row, duplicate_check_fields)
                except RowError:
                    continue
                present, raw = _key(row, "id")
                if rid is None and present and raw is not None:
                    continue
            else:
                present, raw = _key(row, "id")
                rid = id_of(raw) if present else None
                if rid is None:
                    continue
            targets[i] = rid
        wanted = {rid for rid in targets.values() if rid is not None}
        existing = self._existing(wanted)
        known = self._targets([r for i, r in rows if i in targets])
        out: list[Planned] = []
        for i, row in rows:
            if i not in targets:
                continue
            rid = targets[i]
            cur = existing.get(rid) if rid is not None else None
            if rid is not None and cur is None:
                continue
            if (
                cur is not None
                and self.unmodified_since is not None
                and cur.modified_time > self.unmodified_since
            ):
                continue
            try:
                p = self._prepare(i, row, cur, known)
            except RowError:
                continue
            out.append(
                Planned(
                    index=i,
                    operation="create" if cur is None else "update",
                    data=p.data,
                    owner_id=p.owner_id,
                    existing=cur,
                    record_id=cur.id if cur is not None else None,
                    modified_time=cur.modified_time if cur is not None else None,
                )
            )
        return out

    def _existing(self, ids: set[int], *, lock: bool = False) -> dict[int, Any]:
        """The stored rows of this module with ``ids``; ``lock`` for rows about to be written."""
        if not ids:
            return {}
        params = {"ids": sorted(ids), "module": int(self.mod.id)}
        return {r.id: r for r in self.conn.execute(_LOCKED if lock else _ROWS, params).all()}

    def _stale(self, i: int, record_id: int | None, modified_time: int | None) -> bool:
        """Whether row ``i`` now writes another record (or version) than the one validated:
        raises ``StaleWrite`` (the caller validates again) or, in the last round, says so."""
        if self.expect is None or i not in self.expect:
            return False
        if self.expect[i] == (record_id, modified_time):
            return False
        if self.stale_fails:
            return True
        raise StaleWrite()

    def _prepare(self, i: int, row: Any, cur: Any | None, known: dict[int, int]) -> _Prepared:
        if not isinstance(row, dict):
            raise RowError(_not_object(i))
        mod = self.mod
        data: dict[str, Any] = dict(cur.data) if cur is not None else {}
        owner = cur.owner_id if cur is not None else self.user_id
        se_module: str | None = None
        append: set[str] = set()
        for k, v in row.items():
            low = k.lower() if isinstance(k, str) else ""
            if low in ("$se_module", "se_module") and isinstance(v, str):
                se_module = v
            elif low == "$append_values" and isinstance(v, dict):
                append = {str(n).lower() for n, on in v.items() if on is True}
        touched: set[str] = set()
        for k, raw in row.items():
            if not isinstance(k, str):
                continue
            low = k.lower()
            if low == "owner":
                uid = id_of(raw)
                if uid is None or self.crm.users.get(uid, self.conn) is None:
                    raise invalid(FieldDef("Owner", "ownerlookup"), i)
                owner = uid
                continue
            if low in _IGNORED_KEYS:
                continue
            f = mod.field(k)
            if f is None or f.read_only:
                continue
            value = coerce(f, raw, i)
            touched.add(f.api_name)
            if f.type in ("lookup", "parent") and value is not None:
                value = self._check_link(f, raw, value, se_module, known, i, data)
            elif f.type == "parent":
                data.pop("$se_module", None)
            if (
                value is not None
                and f.type == "multiselectpicklist"
                and f.api_name.lower() in append
                and data.get(f.api_name)
            ):
                value = data[f.api_name] + [x for x in value if x not in data[f.api_name]]
            if value is None:
                data.pop(f.api_name, None)
            else:
                data[f.api_name] = value
        if "Full_Name" in mod.fields and "Last_Name" in mod.fields:
            full = " ".join(p for p in (data.get("First_Name"), data.get("Last_Name")) if p)
            if full:
                data["Full_Name"] = full
            else:
                data.pop("Full_Name", None)
        for f in mod.fields.values():
            if not f.mandatory or f.read_only:
                continue
            if cur is not None and f.api_name not in touched:
                continue
            if data.get(f.api_name) in (None, "", []):
                raise RowError(
                    row_error(
                        "MANDATORY_NOT_FOUND",
                        {"api_name": f.api_name, "json_path": f"$.data[{i}].{f.api_name}"},
                        MSG_MANDATORY,
                    )
                )
        return _Prepared(i, data, owner, cur)

    def _check_link(
        self,
        f: FieldDef,
        raw: Any,
        value: str,
        se_module: str | None,
        known: dict[int, int],
        i: int,
        data: dict[str, Any],
    ) -> str:
        target_module_id = known.get(int(value))
        target = self.snap.by_id.get(target_module_id) if target_module_id else None
        if target is None:
            raise invalid(f, i)
        if f.type == "lookup":
            if target.api_name not in f.targets:
                raise invalid(f, i)
            return value
        # parent lookup: the module comes from $se_module / se_module or {"module": …}
        named = se_module
        if isinstance(raw, dict) and isinstance(raw.get("module"), dict):
            named = raw["module"].get("api_name") or named
        if named is not None:
            want = self.snap.by_lower.get(str(named).lower())
            if want is None or want.api_name != target.api_name:
                raise invalid(f, i)
        data["$se_module"] = target.api_name
        return value

    def _targets(self, rows: list[Any]) -> dict[int, int]:
        """id -> module id of every record the rows' lookups name (one query)."""
        link_fields = [f for f in self.mod.fields.values() if f.type in ("lookup", "parent")]
        ids: set[int] = set()
        for row in rows:
            if not isinstance(row, dict):
                continue
            for f in link_fields:
                has, raw = _key(row, f.api_name)
                rid = id_of(raw) if has else None
                if rid is not None:
                    ids.add(rid)
        if not ids:
            return {}
        found = self.conn.execute(sa.select(R.c.id, R.c.module_id).where(R.c.id.in_(ids))).all()
        return {r.id: r.module_id for r in found}

    def _check_unique(self, p: _Prepared, batch: dict[str, list[tuple[Any, int]]]) -> None:
        self_id = p.existing.id if p.existing is not None else None
        for f in self.mod.fields.values():
            if not f.unique:
                continue
            value = p.data.get(f.api_name)
            if value is None:
                continue
            if p.existing is not None and same_value(p.existing.data.get(f.api_name), value):
                continue
            clash = self._find_equal(f, value, self_id)
            if clash is None:
                for other, other_index in batch.get(f.api_name, []):
                    if same_value(other, value) and other_index != p.index:
                        clash = -1
                        break
            if clash is not None:
                raise RowError(
                    row_error(
                        "DUPLICATE_DATA",
                        {
                            "api_name": f.api_name,
                            "json_path": f"$.data[{p.index}].{f.api_name}",
                            "duplicate_record": {
                                "id": str(clash) if clash > 0 else None,
                                "module": {"api_name": self.mod.api_name, "id": self.mod.id},
                            },
                        },
                        MSG_DUPLICATE,
                    )
                )
            batch.setdefault(f.api_name, []).append((value, p.index))

    def _find_equal(self, f: FieldDef, value: Any, exclude: int | None) -> int | None:
        """The oldest record of the module whose field equals ``value`` (text ignores case)."""
        d = self.dialect
        if f.type in _TEXT_UNIQUE and f.api_name == self.mod.name_field:
            cond = sa.func.lower(R.c.name) == sa.func.lower(
                sa.bindparam(None, str(value), type_=sa.String)
            )
        elif f.type in _TEXT_UNIQUE or f.type in ("lookup", "parent", "date", "datetime"):
            cond = sa.func.lower(d.text(f.api_name)) == sa.func.lower(
                sa.bindparam(None, str(value), type_=sa.String)
            )
        elif f.type == "boolean":
            cond = d.boolean(f.api_name, bool(value))
        elif isinstance(value, (int, float)):
            cond = d.number(f.api_name) == d.number_param(Decimal(str(value)))
        else:
            return None
        q = sa.select(R.c.id).where(R.c.module_id == int(self.mod.id), cond)
        if exclude is not None:
            q = q.where(R.c.id != exclude)
        found = self.conn.execute(q.order_by(R.c.id).limit(1)).first()
        return found.id if found else None

    def _assign_autonumbers(self, prepared: list[_Prepared]) -> None:
        autos = [f for f in self.mod.fields.values() if f.type == "autonumber"]
        for f in autos:
            fid = int(f.id or 0)
            q = sa.select(t.fields.c.options).where(t.fields.c.id == fid)
            if self.conn.dialect.name == "postgresql":
                q = q.with_for_update()
            opts = dict(self.conn.execute(q).scalar_one() or {})
            n = int(opts.get("next", 1))
            for p in prepared:
                p.data[f.api_name] = f"{opts.get('prefix', '')}{n}{opts.get('suffix', '')}"
                n += 1
            opts["next"] = n
            self.conn.execute(t.fields.update().where(t.fields.c.id == fid).values(options=opts))

    def _record_name(self, data: dict[str, Any]) -> str | None:
        v = data.get(self.mod.name_field)
        return None if v is None else str(v)[:400]

    def _refs(self, rid: int, data: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for f in self.mod.fields.values():
            if f.type in ("lookup", "parent") and data.get(f.api_name):
                out.append(
                    {
                        "record_id": rid,
                        "field_id": int(f.id or 0),
                        "target_id": int(data[f.api_name]),
                    }
                )
        return out

    def _insert(self, prepared: list[_Prepared]) -> None:
        rows = []
        refs = []
        for p in prepared:
            rid = self.crm.ids.next_id()
            rows.append(
                {
                    "id": rid,
                    "org_id": self.crm.org_id,
                    "module_id": int(self.mod.id),
                    "name": self._record_name(p.data),
                    "data": p.data,
                    "owner_id": p.owner_id,
                    "created_by": self.user_id,
                    "modified_by": self.user_id,
                    "created_time": self.now,
                    "modified_time": self.now,
                }
            )
            refs.extend(self._refs(rid, p.data))
            new = self._state(
                rid, p.data, p.owner_id, self.now, self.user_id, self.now, self.user_id
            )
            self._event("create", rid, None, new)
        self.conn.execute(R.insert(), rows)
        if refs:
            self.conn.execute(t.record_refs.insert(), refs)
        for p, row in zip(prepared, rows, strict=True):
            p.data = {**p.data, "__id": row["id"]}

    def _apply_updates(self, changed: list[_Prepared]) -> None:
        for p in changed:
            cur = p.existing
            self.conn.execute(
                _UPDATE,
                {
                    "rid": cur.id,
                    "name": self._record_name(p.data),
                    "data": p.data,
                    "owner_id": p.owner_id,
                    "modified_by": self.user_id,
                    "modified_time": self.now,
                },
            )
            self._sync_refs(cur.id, cur.data, p.data)
            old = self._state(
                cur.id,
                cur.data,
                cur.owner_id,
                cur.created_time,
                cur.created_by,
                cur.modified_time,
                cur.modified_by,
            )
            new = self._state(
                cur.id, p.data, p.owner_id, cur.created_time, cur.created_by, self.now, self.user_id
            )
            self._event("update", cur.id, old, new)

    def _sync_refs(self, rid: int, old: dict[str, Any], new: dict[str, Any]) -> None:
        for f in self.mod.fields.values():
            if f.type not in ("lookup", "parent") or old.get(f.api_name) == new.get(f.api_name):
                continue
            fid = int(f.id or 0)
            self.conn.execute(
                t.record_refs.delete().where(
                    t.record_refs.c.record_id == rid, t.record_refs.c.field_id == fid
                )
            )
            if new.get(f.api_name):
                self.conn.execute(
                    t.record_refs.insert().values(
                        record_id=rid, field_id=fid, target_id=int(new[f.api_name])
                    )
                )

    # ------------------------------------------------------------------ delete

    def delete(self, items: list[Any]) -> list[dict[str, Any]]:
        wanted = [id_of(x) for x in items]
        valid = {w for w in wanted if w is not None}
        existing = self._existing(valid, lock=True)
        out = []
        gone: list[Any] = []
        for raw, rid in zip(items, wanted, strict=True):
            row = existing.pop(rid, None) if rid is not None else None
            if row is None:
                shown = str(rid) if rid is not None else str(raw)
                out.append(row_error("INVALID_DATA", {"id": shown}, "record not deleted"))
                continue
            gone.append(row)
            out.append(row_success({"id": str(row.id)}, "record deleted"))
        if gone:
            self._delete_rows(self.mod, gone)
        self.crm.events.emit(self.conn, self.events)
        self.events = []
        return out

    def _delete_rows(self, mod: ModuleDef, rows: list[Any]) -> None:
        ids = [r.id for r in rows]
        for r in rows:
            old = self._state(
                r.id,
                r.data,
                r.owner_id,
                r.created_time,
                r.created_by,
                r.modified_time,
                r.modified_by,
            )
            self._event("delete", r.id, old, None, module=mod.api_name)
        self.conn.execute(t.record_refs.delete().where(t.record_refs.c.record_id.in_(ids)))
        self.conn.execute(R.delete().where(R.c.id.in_(ids)))
        self._detach_children(ids)

    def _detach_children(self, ids: list[int]) -> None:
        """Notes of deleted records go with them; other lookups to them are cleared."""
        refs = self.conn.execute(
            sa.select(t.record_refs.c.record_id, t.record_refs.c.field_id).where(
                t.record_refs.c.target_id.in_(ids)
            )
        ).all()
        if not refs:
            return
        by_child: dict[int, set[int]] = {}
        for r in refs:
            by_child.setdefault(r.record_id, set()).add(r.field_id)
        children = self.conn.execute(
            locked(sa.select(*RECORD_COLUMNS).where(R.c.id.in_(list(by_child))))
        ).all()
        notes = self.snap.modules.get("Notes")
        note_rows = [c for c in children if notes is not None and c.module_id == int(notes.id)]
        if note_rows and notes is not None:
            self._delete_rows(notes, note_rows)
        field_names = {
            int(f.id or 0): (m, f)
            for m in self.snap.modules.values()
            for f in m.fields.values()
            if f.type in ("lookup", "parent")
        }
        for c in children:
            if notes is not None and c.module_id == int(notes.id):
                continue
            data = dict(c.data)
            mod = None
            for fid in by_child[c.id]:
                mod, f = field_names.get(fid, (None, None))
                if f is None:
                    continue
                data.pop(f.api_name, None)
                if f.type == "parent":
                    data.pop("$se_module", None)
            if mod is None:
                continue
            self.conn.execute(
                R.update().where(R.c.id == c.id).values(data=data, modified_time=self.now)
            )
            self.conn.execute(
                t.record_refs.delete().where(
                    t.record_refs.c.record_id == c.id,
                    t.record_refs.c.field_id.in_(list(by_child[c.id])),
                )
            )
            old = self._state(
                c.id,
                c.data,
                c.owner_id,
                c.created_time,
                c.created_by,
                c.modified_time,
                c.modified_by,
            )
            new = self._state(
                c.id, data, c.owner_id, c.created_time, c.created_by, self.now, c.modified_by
            )
            self._event("update", c.id, old, new, module=mod.api_name)

    # ------------------------------------------------------------------ shapes and events

    def _details(
        self, rid: int, modified: int, modified_by: int, created: int, created_by: int
    ) -> dict[str, Any]:
        users = self.crm.users.brief({modified_by, created_by}, self.conn)
        tz = self.crm.tz

        def who(uid: int) -> dict[str, Any]:
            return {"name": users.get(uid, (None, None))[0], "id": str(uid)}

        return {
            "Modified_Time": ms_to_iso(modified, tz),
            "Modified_By": who(modified_by),
            "Created_Time": ms_to_iso(created, tz),
            "id": str(rid),
            "Created_By": who(created_by),
            "$approval_state": "approved",
        }

    @staticmethod
    def _state(
        rid: int,
        data: dict[str, Any],
        owner: int,
        created: int,
        created_by: int,
        modified: int,
        modified_by: int,
    ) -> dict[str, Any]:
        state = {k: v for k, v in data.items() if k != "__id"}
        state.update(
            id=str(rid),
            Owner=str(owner),
            Created_By=str(created_by),
            Modified_By=str(modified_by),
            Created_Time=ms_to_utc_text(created),
            Modified_Time=ms_to_utc_text(modified),
        )
        return state

    def _event(
        self,
        action: str,
        rid: int,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        module: str | None = None,
    ) -> None:
        skip = {"Modified_Time", "Modified_By", "Created_Time", "Created_By", "id"}
        keys = set(old or {}) | set(new or {})
        changed = tuple(
            sorted(k for k in keys if k not in skip and (old or {}).get(k) != (new or {}).get(k))
        )
        event_id = str(self.crm.ids.next_id())
        chain = self.actor.chain
        self.events.append(
            RecordChange(
                id=event_id,
                action=action,
                module=module or self.mod.api_name,
                record_id=str(rid),
                old=old,
                new=new,
                changed=changed,
                user_id=str(self.user_id),
                channel=self.actor.channel,
                workflow=self.actor.workflow,
                time=_dt.datetime.fromtimestamp(self.now / 1000, _dt.UTC),
                chain_id=chain[0] if chain is not None else event_id,
                chain_depth=chain[1] if chain is not None else 0,
            )
        )


def _not_object(i: int) -> dict[str, Any]:
    return row_error("INVALID_DATA", {"json_path": f"$.data[{i}]"}, "invalid data")


def _bad_id(i: int) -> dict[str, Any]:
    return row_error(
        "INVALID_DATA", {"api_name": "id", "json_path": f"$.data[{i}].id"}, MSG_INVALID_ID
    )


def _modified_since(i: int) -> dict[str, Any]:
    return row_error(
        "INVALID_DATA",
        {"api_name": "Modified_Time", "json_path": f"$.data[{i}].Modified_Time"},
        "the record was modified after If-Unmodified-Since",
    )


def _stale_error(i: int) -> dict[str, Any]:
    return row_error("INVALID_DATA", {"json_path": f"$.data[{i}]"}, MSG_STALE)


def _with_action(res: dict[str, Any], action: str, dup: str | None) -> dict[str, Any]:
    if res.get("status") != "success":
        return res
    return {**res, "action": action, "duplicate_field": dup}
