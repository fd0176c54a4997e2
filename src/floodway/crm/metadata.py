"""Modules and fields as data: seeding, a per-process cache, run-time additions, Zoho shapes.

The cache is keyed by ``orgs.meta_version``: every metadata change bumps it in the same
transaction, and readers compare versions (inside write transactions always, elsewhere at most
every ``RECHECK_S`` seconds), so a custom field added on one node is live on every node without a
restart. Field values live in the records' JSON column, so adding a field or a module never
touches existing rows (no data loss, no table rewrite).
"""

from __future__ import annotations

import re
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import schema as t
from .errors import MSG_INVALID_DATA, CrmError, invalid_module
from .standard import (
    DATA_TYPES,
    FIELD_TYPES,
    SYSTEM_FIELDS,
    TYPE_ALIASES,
    FieldDef,
    ModuleDef,
    standard_modules,
)

if TYPE_CHECKING:
    from .service import Crm

RECHECK_S: Final = 1.0
API_NAME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
MODULE_ALIASES: Final = {"potentials": "deals"}
ACTIVITY_MODULES: Final = ("Tasks", "Events", "Calls")
# Field names a custom field may not take (system fields and keys the record shape uses).
RESERVED: Final = frozenset(
    {"id", "owner", "created_by", "modified_by", "created_time", "modified_time", "tag"}
)


# Read at the start of every write transaction: built once, the org id as a parameter.
_VERSION = sa.select(t.orgs.c.meta_version).where(t.orgs.c.id == sa.bindparam("org"))


@dataclass(frozen=True, slots=True)
class RelatedList:
    """A related list of ``parent``: records of ``child`` whose lookup ``fields`` hold the parent.

    ``kind``: ``lookup`` (Contacts/Deals of an Account), ``notes``, ``activities`` (Tasks,
    Events, Calls through ``What_Id``/``Who_Id``), ``attachments`` (not served here).
    """

    api_name: str
    parent: str
    child: str
    kind: str
    fields: tuple[str, ...]
    id: str
    sequence_number: int

    @property
    def display_label(self) -> str:
        return self.api_name.replace("_", " ")


@dataclass(slots=True)
class _Snapshot:
    version: int
    modules: dict[str, ModuleDef]  # by API name
    by_lower: dict[str, ModuleDef]
    by_id: dict[int, ModuleDef]
    field_ids: dict[tuple[str, str], int]  # (module, field) -> field id


# Key in ``Connection.info`` of the (transaction, snapshot) last checked on that connection.
_CHECKED_IN: Final = "floodway.metadata.checked"


class Metadata:
    """The org's schema. Reads are served from a snapshot; writes go to the database."""

    def __init__(self, crm: Crm) -> None:
        self.crm = crm
        self._lock = threading.Lock()
        self._snap: _Snapshot | None = None
        self._checked = 0.0

    # ------------------------------------------------------------------ cache

    def snapshot(self, conn: Connection | None = None) -> _Snapshot:
        """The current snapshot; with ``conn`` the version is checked in that transaction."""
        snap = self._snap
        now = time.monotonic()
        if conn is None and snap is not None and now - self._checked < RECHECK_S:
            return snap
        if conn is None:
            with self.crm.engine.connect() as c:
                return self._sync(c, now)
        # One check per transaction is enough: only this transaction could change the version
        # while it is open, and a change it makes drops ``self._snap`` (``invalidate``). A bulk
        # write asks for every row.
        txn = conn.get_transaction()
        seen = conn.info.get(_CHECKED_IN)
        if txn is not None and seen is not None and seen[0] is txn and seen[1] is self._snap:
            return seen[1]
        snap = self._sync(conn, now)
        if txn is not None:
            conn.info[_CHECKED_IN] = (txn, snap)
        return snap

    def _sync(self, conn: Connection, now: float) -> _Snapshot:
        version = conn.execute(_VERSION, {"org": self.crm.org_id}).scalar_one()
        snap = self._snap
        if snap is None or snap.version != version:
            snap = self._load(conn, version)
            with self._lock:
                self._snap = snap
        self._checked = now
        return snap

    def invalidate(self) -> None:
        with self._lock:
            self._snap = None

    def _load(self, conn: Connection, version: int) -> _Snapshot:
        mods = conn.execute(
            sa.select(t.modules)
            .where(t.modules.c.org_id == self.crm.org_id)
            .order_by(t.modules.c.sequence_number, t.modules.c.id)
        ).all()
        frows = conn.execute(
            sa.select(t.fields)
            .join(t.modules, t.modules.c.id == t.fields.c.module_id)
            .where(t.modules.c.org_id == self.crm.org_id)
            .order_by(t.fields.c.module_id, t.fields.c.sequence_number, t.fields.c.id)
        ).all()
        by_mod: dict[int, list[Any]] = {}
        for f in frows:
            by_mod.setdefault(f.module_id, []).append(f)
        modules: dict[str, ModuleDef] = {}
        by_id: dict[int, ModuleDef] = {}
        field_ids: dict[tuple[str, str], int] = {}
        for m in mods:
            fdefs: dict[str, FieldDef] = {}
            for f in by_mod.get(m.id, []):
                opts = dict(f.options or {})
                fdefs[f.api_name] = FieldDef(
                    f.api_name,
                    f.type,
                    mandatory=bool(f.mandatory),
                    targets=tuple(opts.get("targets") or ()),
                    unique=bool(f.is_unique),
                    read_only=bool(f.read_only),
                    min_value=opts.get("min_value"),
                    max_value=opts.get("max_value"),
                    label=f.label,
                    length=f.length,
                    pick_list_values=tuple(opts.get("pick_list_values") or ()),
                    custom=bool(f.custom),
                    id=str(f.id),
                    options=opts,
                )
                field_ids[(m.api_name, f.api_name)] = f.id
            mod = ModuleDef(
                m.api_name,
                str(m.id),
                fdefs,
                m.name_field,
                tuple(m.duplicate_fields or ()),
                singular_label=m.singular_label,
                plural_label=m.plural_label,
                custom=bool(m.custom),
                sequence_number=m.sequence_number,
            )
            modules[m.api_name] = mod
            by_id[m.id] = mod
        return _Snapshot(
            version,
            modules,
            {k.lower(): v for k, v in modules.items()},
            by_id,
            field_ids,
        )

    # ------------------------------------------------------------------ lookups

    def module(self, name: str, conn: Connection | None = None) -> ModuleDef:
        """The module named ``name`` (case-insensitive); raises ``INVALID_MODULE``."""
        found = self.find(name, conn)
        if found is None:
            raise invalid_module()
        return found

    def find(self, name: str, conn: Connection | None = None) -> ModuleDef | None:
        snap = self.snapshot(conn)
        if not isinstance(name, str):
            return None
        low = name.strip().lower()
        low = MODULE_ALIASES.get(low, low)
        return snap.by_lower.get(low)

    def module_by_id(self, module_id: int, conn: Connection | None = None) -> ModuleDef | None:
        return self.snapshot(conn).by_id.get(module_id)

    def modules(self) -> list[ModuleDef]:
        return list(self.snapshot().modules.values())

    def field_id(self, module: str, field: str, conn: Connection | None = None) -> int:
        return self.snapshot(conn).field_ids[(module, field)]

    def field_types(self, module: str | ModuleDef) -> dict[str, str]:
        """API name -> floodway type, system fields included (what criteria checks want)."""
        mod = module if isinstance(module, ModuleDef) else self.module(module)
        types = {f.api_name: f.type for f in mod.fields.values()}
        types.update(
            Owner="ownerlookup",
            Created_By="ownerlookup",
            Modified_By="ownerlookup",
            Created_Time="datetime",
            Modified_Time="datetime",
            id="id",
        )
        return types

    # ------------------------------------------------------------------ related lists

    def related_lists(self, module: str | ModuleDef) -> list[RelatedList]:
        mod = module if isinstance(module, ModuleDef) else self.module(module)
        snap = self.snapshot()
        out: list[RelatedList] = []
        seq = 0

        def add(name: str, child: str, kind: str, fields: tuple[str, ...]) -> None:
            nonlocal seq
            seq += 1
            rid = (int(mod.id) & ~0xFFFFF) | (zlib.crc32(name.encode()) & 0xFFFFF)
            out.append(RelatedList(name, mod.api_name, child, kind, fields, str(rid), seq))

        for child in snap.modules.values():
            if child.api_name in ACTIVITY_MODULES or child.api_name == "Notes":
                continue
            links = [
                f.api_name
                for f in child.fields.values()
                if f.type == "lookup" and mod.api_name in f.targets
            ]
            if len(links) == 1:
                add(child.api_name, child.api_name, "lookup", (links[0],))
            else:
                for link in links:
                    add(f"{child.api_name}_{link}", child.api_name, "lookup", (link,))
        if mod.api_name != "Notes" and "Notes" in snap.modules:
            add("Notes", "Notes", "notes", ("Parent_Id",))
        if mod.api_name not in ACTIVITY_MODULES and mod.api_name != "Notes":
            for act in ACTIVITY_MODULES:
                amod = snap.modules.get(act)
                if amod is None:
                    continue
                links = tuple(
                    f.api_name
                    for f in amod.fields.values()
                    if f.type == "parent" or (f.type == "lookup" and mod.api_name in f.targets)
                )
                if links:
                    add(act, act, "activities", links)
        add("Attachments", "Attachments", "attachments", ())
        return out

    def related_list(self, module: str | ModuleDef, name: str) -> RelatedList:
        low = name.lower()
        for rl in self.related_lists(module):
            if rl.api_name.lower() == low:
                return rl
        raise CrmError(
            "INVALID_DATA",
            "the relation name given seems to be invalid",
            {"resource_path_index": 2},
        )

    # ------------------------------------------------------------------ Zoho shapes

    def module_json(self, module: str | ModuleDef) -> dict[str, Any]:
        mod = module if isinstance(module, ModuleDef) else self.module(module)
        return {
            "api_name": mod.api_name,
            "module_name": mod.api_name,
            "singular_label": mod.singular_label or mod.api_name,
            "plural_label": mod.plural_label or mod.api_name,
            "id": mod.id,
            "api_supported": True,
            "generated_type": "custom" if mod.custom else "default",
            "creatable": True,
            "editable": True,
            "deletable": True,
            "viewable": True,
            "visible": True,
            "sequence_number": mod.sequence_number,
        }

    def modules_json(self) -> list[dict[str, Any]]:
        return [self.module_json(m) for m in self.modules()]

    def fields_json(self, module: str | ModuleDef, legacy: bool = False) -> list[dict[str, Any]]:
        """``settings/fields`` items; ``legacy`` gives the v2/v2.1 lookup shape."""
        mod = module if isinstance(module, ModuleDef) else self.module(module)
        snap = self.snapshot()
        out = []
        seq_id = int(mod.id)
        for name in SYSTEM_FIELDS:
            seq_id += 1
            if name.endswith("_Time"):
                fd = FieldDef(name, "datetime", read_only=True, id=str(seq_id))
            else:
                fd = FieldDef(
                    name,
                    "ownerlookup",
                    read_only=name != "Owner",
                    id=str(seq_id),
                    label="Owner" if name == "Owner" else None,
                )
            out.append(self._field_json(mod, fd, snap, legacy))
        out.extend(self._field_json(mod, f, snap, legacy) for f in mod.fields.values())
        return out

    def _field_json(
        self, mod: ModuleDef, f: FieldDef, snap: _Snapshot, legacy: bool
    ) -> dict[str, Any]:
        data_type, json_type = DATA_TYPES[f.type]
        lookup: dict[str, Any] = {}
        if f.type in ("lookup", "parent") and (f.targets or f.type == "parent"):
            target = snap.modules.get(f.targets[0]) if f.targets else None
            target_name = target.api_name if target else (f.targets[0] if f.targets else None)
            lookup_id = str(int(f.id or mod.id) + 2)
            if legacy:
                lookup = {
                    "display_label": f.display_label,
                    "api_name": None,
                    "module": target_name,
                    "id": lookup_id,
                }
            else:
                lookup = {
                    "display_label": f.display_label,
                    "api_name": f.api_name,
                    "module": {"api_name": target_name, "id": target.id if target else None},
                    "id": lookup_id,
                }
        picks = []
        if f.type in ("picklist", "multiselectpicklist"):
            base = int(f.id or mod.id)
            for i, value in enumerate(f.pick_list_values, start=1):
                picks.append(
                    {
                        "display_value": value,
                        "actual_value": value,
                        "reference_value": value,
                        "id": str(base + 100 + i),
                        "sequence_number": i,
                        "type": "used",
                    }
                )
        currency: dict[str, Any] = {}
        if f.type == "currency":
            currency = {"rounding_option": "normal", "precision": 2}
        return {
            "api_name": f.api_name,
            "field_label": f.display_label,
            "display_label": f.display_label,
            "data_type": data_type,
            "json_type": json_type,
            "id": f.id,
            "system_mandatory": f.mandatory and not f.custom,
            "mandatory": f.mandatory,
            "custom_field": f.custom,
            "read_only": f.read_only,
            "visible": True,
            "unique": {"casesensitive": "false"} if f.unique else {},
            "length": f.max_length or 0,
            "currency": currency,
            "lookup": lookup,
            "pick_list_values": picks,
        }

    def related_lists_json(
        self, module: str | ModuleDef, legacy: bool = False
    ) -> list[dict[str, Any]]:
        mod = module if isinstance(module, ModuleDef) else self.module(module)
        snap = self.snapshot()
        out = []
        for rl in self.related_lists(mod):
            child = snap.modules.get(rl.child)
            module_value: Any
            if legacy:
                module_value = rl.child
            else:
                module_value = {"api_name": rl.child, "id": child.id if child else None}
            out.append(
                {
                    "api_name": rl.api_name,
                    "module": module_value,
                    "name": rl.display_label,
                    "display_label": rl.display_label,
                    "href": f"{mod.api_name}/{{ENTITYID}}/{rl.api_name}",
                    "id": rl.id,
                    "type": "default",
                    "visible": True,
                    "sequence_number": rl.sequence_number,
                }
            )
        return out

    # ------------------------------------------------------------------ changes

    def seed(self, conn: Connection, now_ms: int) -> None:
        """Insert the standard modules (first start)."""
        for mod in standard_modules():
            self._insert_module(conn, mod, now_ms)

    def _insert_module(self, conn: Connection, mod: ModuleDef, now_ms: int) -> int:
        ids = self.crm.ids
        module_id = ids.next_id()
        conn.execute(
            t.modules.insert().values(
                id=module_id,
                org_id=self.crm.org_id,
                api_name=mod.api_name,
                singular_label=mod.singular_label or mod.api_name,
                plural_label=mod.plural_label or mod.api_name,
                name_field=mod.name_field,
                custom=mod.custom,
                sequence_number=mod.sequence_number,
                duplicate_fields=list(mod.duplicate_fields),
                created_time=now_ms,
            )
        )
        rows = [
            self._field_row(module_id, f, seq, now_ms)
            for seq, f in enumerate(mod.fields.values(), start=1)
        ]
        if rows:
            conn.execute(t.fields.insert(), rows)
        return module_id

    def _field_row(self, module_id: int, f: FieldDef, seq: int, now_ms: int) -> dict[str, Any]:
        opts: dict[str, Any] = dict(f.options)
        if f.targets:
            opts["targets"] = list(f.targets)
        if f.pick_list_values:
            opts["pick_list_values"] = list(f.pick_list_values)
        if f.min_value is not None:
            opts["min_value"] = f.min_value
        if f.max_value is not None:
            opts["max_value"] = f.max_value
        return {
            "id": self.crm.ids.next_id(),
            "module_id": module_id,
            "api_name": f.api_name,
            "label": f.display_label,
            "type": f.type,
            "mandatory": f.mandatory,
            "is_unique": f.unique,
            "read_only": f.read_only,
            "custom": f.custom,
            "length": f.length,
            "options": opts,
            "sequence_number": seq,
            "created_time": now_ms,
        }

    def _bump(self, conn: Connection) -> None:
        conn.execute(
            t.orgs.update()
            .where(t.orgs.c.id == self.crm.org_id)
            .values(meta_version=t.orgs.c.meta_version + 1)
        )

    def add_module(
        self,
        api_name: str,
        *,
        singular_label: str | None = None,
        plural_label: str | None = None,
        name_field: str = "Name",
        fields: Iterable[FieldDef] = (),
    ) -> ModuleDef:
        """A custom module with a mandatory text name field; live at once."""
        _check_name(api_name, "api_name")
        _check_name(name_field, "name_field")
        from floodway.db import write_transaction

        with write_transaction(self.crm.engine) as conn:
            snap = self.snapshot(conn)
            low = api_name.lower()
            if low in snap.by_lower or low in MODULE_ALIASES:
                raise CrmError(
                    "DUPLICATE_DATA", "duplicate data", {"api_name": api_name}, status=400
                )
            seq = max((m.sequence_number for m in snap.modules.values()), default=0) + 1
            fdefs = {name_field: FieldDef(name_field, "text", mandatory=True, custom=True)}
            for f in fields:
                _check_name(f.api_name, "api_name")
                fdefs[f.api_name] = replace(f, custom=True)
            mod = ModuleDef(
                api_name,
                "",
                fdefs,
                name_field,
                (name_field,),
                singular_label=singular_label or api_name,
                plural_label=plural_label or api_name,
                custom=True,
                sequence_number=seq,
            )
            self._insert_module(conn, mod, self.crm.now_ms())
            self._bump(conn)
            self.invalidate()
        return self.module(api_name)

    def add_field(
        self,
        module: str,
        api_name: str,
        type: str,
        *,
        label: str | None = None,
        mandatory: bool = False,
        unique: bool = False,
        length: int | None = None,
        pick_list_values: Iterable[str] = (),
        lookup_module: str | None = None,
        min_value: int | None = None,
        max_value: int | None = None,
        options: dict[str, Any] | None = None,
    ) -> FieldDef:
        """A custom field, live at once on every node; existing records keep their data."""
        _check_name(api_name, "api_name")
        ftype = TYPE_ALIASES.get(type.lower(), type.lower()) if isinstance(type, str) else ""
        if ftype not in FIELD_TYPES or ftype == "parent":
            raise CrmError(
                "INVALID_DATA",
                MSG_INVALID_DATA,
                {"api_name": "data_type", "reason": f"unknown field type {type!r}"},
            )
        if api_name.lower() in RESERVED:
            raise CrmError(
                "INVALID_DATA",
                MSG_INVALID_DATA,
                {"api_name": "api_name", "reason": f"{api_name} is a system field"},
            )
        if length is not None and not 1 <= length <= 32_000:
            raise CrmError(
                "INVALID_DATA", MSG_INVALID_DATA, {"api_name": "length", "reason": "1 to 32000"}
            )
        from floodway.db import write_transaction

        with write_transaction(self.crm.engine) as conn:
            snap = self.snapshot(conn)
            mod = snap.by_lower.get(MODULE_ALIASES.get(module.lower(), module.lower()))
            if mod is None:
                raise invalid_module()
            if mod.field(api_name) is not None:
                raise CrmError(
                    "DUPLICATE_DATA", "duplicate data", {"api_name": api_name}, status=400
                )
            targets: tuple[str, ...] = ()
            if ftype == "lookup":
                target = snap.by_lower.get((lookup_module or "").lower())
                if target is None:
                    raise CrmError(
                        "INVALID_DATA",
                        MSG_INVALID_DATA,
                        {"api_name": "lookup_module", "reason": "unknown module"},
                    )
                targets = (target.api_name,)
            opts = dict(options or {})
            if ftype == "autonumber":
                opts.setdefault("prefix", "")
                opts.setdefault("suffix", "")
                opts.setdefault("next", int(opts.pop("start", 1)))
            fdef = FieldDef(
                api_name,
                ftype,
                mandatory=mandatory,
                targets=targets,
                unique=unique,
                read_only=ftype == "autonumber",
                min_value=min_value,
                max_value=max_value,
                label=label,
                length=length,
                pick_list_values=tuple(pick_list_values),
                custom=True,
                options=opts,
            )
            seq = len(mod.fields) + 1
            conn.execute(
                t.fields.insert().values(self._field_row(int(mod.id), fdef, seq, self.crm.now_ms()))
            )
            if unique and api_name not in mod.duplicate_fields:
                conn.execute(
                    t.modules.update()
                    .where(t.modules.c.id == int(mod.id))
                    .values(duplicate_fields=[*mod.duplicate_fields, api_name])
                )
            self._bump(conn)
            self.invalidate()
        found = self.module(mod.api_name).field(api_name)
        assert found is not None
        return found


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not API_NAME_RE.fullmatch(name):
        raise CrmError(
            "INVALID_DATA",
            MSG_INVALID_DATA,
            {
                "api_name": what,
                "reason": "API names start with a letter and hold letters, digits and _",
            },
        )
