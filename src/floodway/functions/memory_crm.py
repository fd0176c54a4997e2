"""An in-memory CRM serving the ``zoho.crm.*`` tasks of Deluge for ``floodway run``.

``MemoryCrm`` holds the standard modules (Leads, Contacts, Accounts, Deals, Tasks, Products, Notes)
with Zoho's field types, and implements every task of deluge-language.md §12.3 with the value
conversions of §12.2, the result shapes of §12.4 and the error maps of §12.7. Tasks never raise for
bad data: they return error maps (D-29); only argument *types* a script got wrong (a LIST as the
module name) raise ``DelugeRuntimeError``. Values crossing the boundary are Deluge values only.

Stored records keep Python values (``date``, aware ``datetime``, ids as digit text, lookups as the
target id); ``_read`` turns them into the Deluge form tasks return. ``seed`` loads data for tests
and script runs; ``changes`` lists the records a run created or updated (execution reports).
The task table, argument rules, date texts and error maps are shared with the live system's CRM
tasks (``crm_bridge``), so both give scripts the same shapes.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from floodway.crm.criteria import (
    CriteriaError,
    CriteriaLimitError,
    compile_criteria,
    is_empty,
    parse_criteria,
)
from floodway.deluge.host import User
from floodway.deluge.values import (
    DateTime,
    DelugeList,
    DelugeMap,
    File,
    text_form,
    to_json_text,
)

from .crm_bridge import (
    LEAD_TO_ACCOUNT,
    LEAD_TO_CONTACT,
    MAX_PER_PAGE,
    MAX_SEARCH_MATCHES,
    TaskFail,
    error_map,
    from_plain,
    id_arg,
    id_of,
    int_arg,
    invalid_id_map,
    invalid_module_map,
    options_arg,
    parse_date_text,
    query_get,
    record_arg,
    resolve_task,
    rows_arg,
    success_map,
    to_float,
    to_int,
    type_error,
    unwrap,
    wants_workflow,
)

__all__ = ["Change", "FieldDef", "MemoryCrm", "ModuleDef", "error_map", "parse_date_text"]

FIRST_RECORD_ID: Final = 4_150_868_000_000_500_001
ID_STEP: Final = 1000
TEXT_LENGTH: Final = 255
TEXTAREA_LENGTH: Final = 32_000
SYSTEM_READ_ONLY: Final = frozenset(
    {"id", "created_time", "modified_time", "created_by", "modified_by", "full_name"}
)
_TEXT_TYPES: Final = frozenset({"text", "textarea", "email", "phone", "url", "picklist"})
_DECIMAL_TYPES: Final = frozenset({"decimal", "currency", "percent"})
_DATA_TYPE: Final = {"url": "website", "decimal": "double", "parent": "lookup"}
_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, slots=True)
class FieldDef:
    """A module field: ``type`` is a floodway field type (project-format.md), or ``parent`` for
    the polymorphic lookups ``What_Id`` / ``Parent_Id`` that come with ``$se_module``."""

    api_name: str
    type: str = "text"
    mandatory: bool = False
    targets: tuple[str, ...] = ()
    unique: bool = False
    read_only: bool = False
    min_value: int | None = None
    max_value: int | None = None


@dataclass(slots=True)
class ModuleDef:
    api_name: str
    id: str
    fields: dict[str, FieldDef]
    name_field: str
    duplicate_fields: tuple[str, ...]

    def field(self, key: str) -> FieldDef | None:
        f = self.fields.get(key)
        if f is not None:
            return f
        low = key.lower()
        for name, fd in self.fields.items():
            if name.lower() == low:
                return fd
        return None


@dataclass(frozen=True, slots=True)
class Change:
    """A write made by a task, for the execution report."""

    action: str  # "created" | "updated" | "attached" | "converted"
    module: str
    id: str
    workflow: bool  # whether the task asked for workflow rules (§12.5)


@dataclass(frozen=True, slots=True)
class _Relation:
    name: str
    kind: str  # "lookup" | "tasks" | "notes" | "attachments"
    child: str
    fields: tuple[str, ...]


def _invalid_field(f: FieldDef, row: int) -> TaskFail:
    return TaskFail(
        error_map(
            "INVALID_DATA",
            {
                "api_name": f.api_name,
                "expected_data_type": _DATA_TYPE.get(f.type, f.type),
                "json_path": f"$.data[{row}].{f.api_name}",
            },
            "invalid data",
        )
    )


def _modules() -> dict[str, ModuleDef]:
    def F(name: str, t: str = "text", **kw: Any) -> FieldDef:
        return FieldDef(name, t, **kw)

    def texts(*names: str) -> list[FieldDef]:
        return [F(n) for n in names]

    person = [F("Salutation", "picklist"), F("First_Name"), F("Last_Name", mandatory=True)]
    person.append(F("Full_Name", read_only=True))
    specs: list[tuple[str, str, list[FieldDef], tuple[str, ...]]] = [
        (
            "Leads",
            "Full_Name",
            [
                *person,
                F("Company"),
                F("Email", "email"),
                F("Phone", "phone"),
                F("Mobile", "phone"),
                F("Lead_Status", "picklist"),
                F("Lead_Source", "picklist"),
                F("Industry", "picklist"),
                F("Rating", "picklist"),
                F("Website", "url"),
                *texts("Designation", "Street", "City", "State", "Zip_Code", "Country"),
                F("Description", "textarea"),
                F("Annual_Revenue", "currency"),
                F("No_of_Employees", "integer"),
                F("Email_Opt_Out", "boolean"),
            ],
            ("Email",),
        ),
        (
            "Contacts",
            "Full_Name",
            [
                *person,
                F("Account_Name", "lookup", targets=("Accounts",)),
                F("Email", "email"),
                F("Phone", "phone"),
                F("Mobile", "phone"),
                *texts("Title", "Department", "Mailing_Street", "Mailing_City", "Mailing_State"),
                *texts("Mailing_Zip", "Mailing_Country"),
                F("Date_of_Birth", "date"),
                F("Lead_Source", "picklist"),
                F("Description", "textarea"),
                F("Email_Opt_Out", "boolean"),
            ],
            ("Email",),
        ),
        (
            "Accounts",
            "Account_Name",
            [
                F("Account_Name", mandatory=True),
                F("Phone", "phone"),
                F("Website", "url"),
                F("Industry", "picklist"),
                F("Annual_Revenue", "currency"),
                F("Account_Number", "bigint"),
                F("Parent_Account", "lookup", targets=("Accounts",)),
                *texts("Billing_Street", "Billing_City", "Billing_State", "Billing_Code"),
                *texts("Billing_Country", "Shipping_Street", "Shipping_City", "Shipping_State"),
                *texts("Shipping_Code", "Shipping_Country"),
                F("Description", "textarea"),
            ],
            ("Account_Name",),
        ),
        (
            "Deals",
            "Deal_Name",
            [
                F("Deal_Name", mandatory=True),
                F("Stage", "picklist", mandatory=True),
                F("Amount", "currency"),
                F("Closing_Date", "date"),
                F("Account_Name", "lookup", targets=("Accounts",)),
                F("Contact_Name", "lookup", targets=("Contacts",)),
                F("Probability", "integer", min_value=0, max_value=100),
                F("Type", "picklist"),
                F("Lead_Source", "picklist"),
                F("Next_Step"),
                F("Description", "textarea"),
            ],
            ("Deal_Name",),
        ),
        (
            "Tasks",
            "Subject",
            [
                F("Subject", mandatory=True),
                F("Due_Date", "date"),
                F("Status", "picklist"),
                F("Priority", "picklist"),
                F("What_Id", "parent"),
                F("Who_Id", "lookup", targets=("Contacts", "Leads")),
                F("Description", "textarea"),
                F("Remind_At", "datetime"),
            ],
            ("Subject",),
        ),
        (
            "Products",
            "Product_Name",
            [
                F("Product_Name", mandatory=True),
                F("Product_Code"),
                F("Unit_Price", "currency"),
                F("Qty_in_Stock", "decimal"),
                F("Product_Active", "boolean"),
                F("Description", "textarea"),
            ],
            ("Product_Name",),
        ),
        (
            "Notes",
            "Note_Title",
            [
                F("Note_Title"),
                F("Note_Content", "textarea", mandatory=True),
                F("Parent_Id", "parent", mandatory=True),
            ],
            (),
        ),
    ]
    out: dict[str, ModuleDef] = {}
    for i, (name, name_field, fields, dup) in enumerate(specs):
        mod_id = str(4_150_868_000_000_002_175 + i * 2)
        out[name] = ModuleDef(name, mod_id, {f.api_name: f for f in fields}, name_field, dup)
    return out


class MemoryCrm:
    """In-memory CRM data plus the ``zoho.crm.*`` tasks (``crm_task``) run as ``user``."""

    def __init__(
        self,
        user: User,
        admin: User | None = None,
        clock: Callable[[], _dt.datetime] | None = None,
        *,
        tz: _dt.tzinfo = _dt.UTC,
        month_first: bool = True,
        org_variables: Mapping[str, str] | None = None,
        zapikey: str = "",
        validator: Callable[[str, str, DelugeMap], tuple[str, str] | None] | None = None,
    ) -> None:
        self.user = user
        self.admin = admin or user
        self.clock = clock or (lambda: _dt.datetime.now(_dt.UTC))
        self.tz = tz
        self.month_first = month_first
        self.zapikey = zapikey
        # validator(module, "create"|"update", record) -> (rule name, message) when blocked (D-57)
        self.validator = validator
        self.modules = _modules()
        self.users: dict[str, User] = {self.admin.id: self.admin, user.id: user}
        self.org_variables: dict[str, str] = dict(org_variables or {})
        self.changes: list[Change] = []
        self._records: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in self.modules}
        self._where: dict[str, str] = {}  # record id -> module (ids are unique across the org)
        self._attachments: dict[str, dict[str, Any]] = {}
        self._next_id = FIRST_RECORD_ID

    # ------------------------------------------------------------------ setup helpers

    def add_user(self, user: User) -> None:
        self.users[user.id] = user

    def add_module(self, api_name: str, name_field: str = "Name") -> ModuleDef:
        """A custom module with a mandatory text field ``name_field``."""
        mod_id = str(4_150_868_000_000_003_001 + len(self.modules) * 2)
        fields = {name_field: FieldDef(name_field, "text", mandatory=True)}
        mod = ModuleDef(api_name, mod_id, fields, name_field, (name_field,))
        self.modules[api_name] = mod
        self._records[api_name] = {}
        return mod

    def add_field(self, module: str, field: FieldDef) -> None:
        """A custom field (``[[field]]`` of floodway.toml); unique fields join duplicate checks."""
        mod = self.modules[module]
        mod.fields[field.api_name] = field
        if field.unique and field.api_name not in mod.duplicate_fields:
            mod.duplicate_fields = (*mod.duplicate_fields, field.api_name)

    def seed(self, module: str, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """Load records (plain Python or Deluge values); ``id``, ``Owner``, ``Created_Time``,
        ``Modified_Time`` may be given. Raises ``ValueError`` with the error map on bad data."""
        mod = self._module(module)
        if mod is None:
            raise ValueError(f"unknown module {module!r}")
        ids = []
        for i, plain in enumerate(records):
            values = from_plain(plain)
            assert type(values) is DelugeMap
            try:
                rec = self._prepare(mod, values, None, i, system=True)
                if rec.get("id") in self._where:
                    raise ValueError(f"seed {module}[{i}]: id {rec['id']} already exists")
                ids.append(self._commit(mod, rec, None, workflow=False, record=False))
            except TaskFail as fail:
                raise ValueError(f"seed {module}[{i}]: {to_json_text(fail.error)}") from None
        return ids

    def get(self, module: str, record_id: str) -> DelugeMap | None:
        """A record in the form tasks return, or None."""
        mod = self._module(module)
        rec = self._records[mod.api_name].get(record_id) if mod else None
        return self._read(mod, rec) if mod and rec else None

    def records(self, module: str) -> list[DelugeMap]:
        mod = self._module(module)
        if mod is None:
            return []
        return [self._read(mod, r) for r in self._records[mod.api_name].values()]

    def attachments(self, record_id: str) -> list[dict[str, Any]]:
        return [a for a in self._attachments.values() if a["Parent_Id"] == record_id]

    # ------------------------------------------------------------------ dispatch

    def crm_task(self, task: str, args: list[Any]) -> Any:
        """Run ``zoho.crm.<task>`` (lower-case name) with Deluge argument values."""
        name, canonical = resolve_task(task, len(args))
        method = getattr(self, "_t_" + name)
        try:
            return method(canonical, *args)
        except TaskFail as fail:
            return fail.error

    # ------------------------------------------------------------------ argument helpers

    def _module(self, name: str) -> ModuleDef | None:
        low = name.strip().lower()
        if low == "potentials":
            low = "deals"
        for api, mod in self.modules.items():
            if api.lower() == low:
                return mod
        return None

    def _module_arg(self, task: str, pos: int, value: Any) -> ModuleDef:
        if type(value) is not str:
            raise type_error(task, pos, "TEXT", value)
        mod = self._module(value)
        if mod is None:
            raise TaskFail(invalid_module_map())
        return mod

    # ------------------------------------------------------------------ reading

    def _user_map(self, user_id: str | None, email: bool = True) -> DelugeMap | None:
        if user_id is None:
            return None
        u = self.users.get(user_id)
        out = DelugeMap(name=u.name if u else None, id=user_id)
        if email:
            out["email"] = u.email if u else None
        return out

    def _name_of(self, record_id: str) -> str | None:
        mod_name = self._where.get(record_id)
        if mod_name is None:
            return None
        mod = self.modules[mod_name]
        rec = self._records[mod_name].get(record_id)
        value = rec.get(mod.name_field) if rec else None
        return value if type(value) is str else None

    def _iso(self, value: _dt.datetime) -> str:
        return value.astimezone(self.tz).isoformat(timespec="seconds")

    def _out(self, f: FieldDef, rec: Mapping[str, Any], mod: ModuleDef) -> Any:
        v = rec.get(f.api_name)
        if v is None:
            return None
        if f.type == "date":
            return str(v.isoformat())
        if f.type == "datetime":
            return self._iso(v)
        if f.type == "multiselectpicklist":
            return DelugeList(v)
        if f.type == "lookup":
            return DelugeMap(name=self._name_of(v), id=v)
        if f.type == "parent":
            out = DelugeMap()
            if mod.api_name == "Notes":
                parent_mod = self.modules.get(rec.get("$se_module") or "")
                out["module"] = DelugeMap(
                    api_name=rec.get("$se_module"), id=parent_mod.id if parent_mod else None
                )
            out["name"] = self._name_of(v)
            out["id"] = v
            return out
        return v

    def _read(
        self, mod: ModuleDef, rec: Mapping[str, Any], only: set[str] | None = None
    ) -> DelugeMap:
        def want(key: str) -> bool:
            return only is None or key.lower() in only

        out = DelugeMap()
        if want("Owner"):
            out["Owner"] = self._user_map(rec.get("Owner"))
        for f in mod.fields.values():
            if want(f.api_name):
                out[f.api_name] = self._out(f, rec, mod)
                if f.type == "parent":
                    out["$se_module"] = rec.get("$se_module")
        if only is None:
            out["Tag"] = DelugeList()
            out["$currency_symbol"] = "$"
            out["$editable"] = True
            out["$approved"] = True
            if mod.api_name == "Leads":
                out["$converted"] = bool(rec.get("$converted"))
        for key in ("Created_By", "Modified_By"):
            if want(key):
                out[key] = self._user_map(rec.get(key))
        for key in ("Created_Time", "Modified_Time"):
            if want(key):
                out[key] = self._iso(rec[key])
        out["id"] = rec["id"]
        return out

    def _field_types(self, mod: ModuleDef) -> dict[str, str]:
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

    def _fields_param(self, mod: ModuleDef, query: Mapping[str, Any]) -> set[str] | None:
        raw = query_get(query, "fields")
        if raw is None or raw == "":
            return None
        items = (
            [text_form(x) for x in raw] if type(raw) is DelugeList else text_form(raw).split(",")
        )
        return {x.strip().lower() for x in items if x.strip()}

    def _listing(
        self,
        mod: ModuleDef,
        recs: list[dict[str, Any]],
        page: int,
        per_page: int,
        query: Mapping[str, Any],
        cap: int | None = None,
    ) -> DelugeList:
        recs = self._sorted(mod, recs, query)
        if cap is not None:
            recs = recs[:cap]
        page = max(page, 1)
        per_page = min(max(per_page, 1), MAX_PER_PAGE)
        start = (page - 1) * per_page
        only = self._fields_param(mod, query)
        return DelugeList(self._read(mod, r, only) for r in recs[start : start + per_page])

    def _sorted(
        self, mod: ModuleDef, recs: list[dict[str, Any]], query: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        order = text_form(query_get(query, "sort_order") or "desc").strip().lower()
        desc = order != "asc"
        recs = sorted(recs, key=lambda r: int(r["id"]), reverse=desc)  # ties broken by id
        sort_by = text_form(query_get(query, "sort_by") or "id").strip()
        key = {"created_time": "Created_Time", "modified_time": "Modified_Time"}.get(
            sort_by.lower()
        )
        if key is None:
            f = mod.field(sort_by)
            key = f.api_name if f else None
        if key is None:
            return recs
        present = [r for r in recs if not is_empty(r.get(key))]
        missing = [r for r in recs if is_empty(r.get(key))]
        present.sort(key=lambda r: _sortable(r[key]), reverse=desc)
        return present + missing

    def _visible(self, mod: ModuleDef, query: Mapping[str, Any]) -> list[dict[str, Any]]:
        recs = list(self._records[mod.api_name].values())
        if mod.api_name != "Leads":
            return recs
        conv = query_get(query, "converted")
        mode = "false" if conv is None else text_form(conv).strip().lower()
        if mode == "both":
            return recs
        want = mode == "true"
        return [r for r in recs if bool(r.get("$converted")) == want]

    # ------------------------------------------------------------------ writing

    def _prepare(
        self,
        mod: ModuleDef,
        values: DelugeMap,
        existing: dict[str, Any] | None,
        row: int,
        *,
        system: bool = False,
    ) -> dict[str, Any]:
        """The record after applying ``values``; raises ``_Fail`` with the row's error map."""
        rec = dict(existing) if existing else {}
        se_module: str | None = None
        append: set[str] = set()
        for key, raw in values.items():
            k = key if type(key) is str else text_form(key)
            low = k.lower()
            if low in ("$se_module", "se_module"):
                se_module = text_form(raw) if raw is not None else None
            elif low == "$append_values" and type(unwrap(raw)) is DelugeMap:
                append = {str(n).lower() for n, on in unwrap(raw).items() if on is True}
        for key, raw in values.items():
            k = key if type(key) is str else text_form(key)
            low = k.lower()
            if low == "owner":
                rec["Owner"] = self._coerce_owner(raw, row)
                continue
            if system and low in (
                "id",
                "created_time",
                "modified_time",
                "created_by",
                "modified_by",
            ):
                rec[_SYSTEM_KEYS[low]] = self._coerce_system(low, raw, row)
                continue
            if system and low == "$converted":
                rec["$converted"] = raw is True
                continue
            if low in SYSTEM_READ_ONLY:
                continue
            f = mod.field(k)
            if f is None or f.read_only:
                continue  # unknown keys are ignored (§12.1)
            value = self._coerce(f, raw, row, se_module)
            if f.type == "parent":
                if value is None:
                    rec[f.api_name], rec["$se_module"] = None, None
                else:
                    rec[f.api_name], rec["$se_module"] = value
                continue
            if value is not None and f.api_name.lower() in append and rec.get(f.api_name):
                value = rec[f.api_name] + [x for x in value if x not in rec[f.api_name]]
            rec[f.api_name] = value
        if "Last_Name" in mod.fields and "Full_Name" in mod.fields:
            parts = [rec.get("First_Name"), rec.get("Last_Name")]
            rec["Full_Name"] = " ".join(p for p in parts if p) or None
        for f in mod.fields.values():
            if f.mandatory and is_empty(rec.get(f.api_name)):
                raise TaskFail(
                    error_map(
                        "MANDATORY_NOT_FOUND",
                        {"api_name": f.api_name, "json_path": f"$.data[{row}].{f.api_name}"},
                        "required field not found",
                    )
                )
        self._check_unique(mod, rec, row)
        return rec

    def _check_unique(self, mod: ModuleDef, rec: dict[str, Any], row: int) -> None:
        for f in mod.fields.values():
            value = rec.get(f.api_name)
            if not f.unique or is_empty(value):
                continue
            for other in self._records[mod.api_name].values():
                if other["id"] != rec.get("id") and _same(other.get(f.api_name), value):
                    raise TaskFail(
                        error_map(
                            "DUPLICATE_DATA",
                            {
                                "api_name": f.api_name,
                                "json_path": f"$.data[{row}].{f.api_name}",
                                "duplicate_record": DelugeMap(
                                    id=other["id"],
                                    module=DelugeMap(api_name=mod.api_name, id=mod.id),
                                ),
                            },
                            "duplicate data",
                        )
                    )

    def _coerce_owner(self, raw: Any, row: int) -> str:
        uid = id_of(raw)
        if uid is None or uid not in self.users:
            raise _invalid_field(FieldDef("Owner", "ownerlookup"), row)
        return uid

    def _coerce_system(self, key: str, raw: Any, row: int) -> Any:
        if key == "id":
            rid = id_of(raw)
            if rid is None:
                raise _invalid_field(FieldDef("id", "bigint"), row)
            return rid
        if key in ("created_by", "modified_by"):
            return self._coerce_owner(raw, row)
        return self._coerce(FieldDef(_SYSTEM_KEYS[key], "datetime"), raw, row, None)

    def _coerce(self, f: FieldDef, raw: Any, row: int, se_module: str | None) -> Any:
        """A Deluge value written to field ``f`` in stored form (§12.2 writing, D-31)."""
        v = unwrap(raw)
        t = f.type
        if v is None or (type(v) is str and v.strip() == "" and t != "multiselectpicklist"):
            return None
        bad = _invalid_field(f, row)
        if t in _TEXT_TYPES:
            if type(v) in (DelugeList, DelugeMap, File):
                raise bad
            s = text_form(v)
            limit = TEXTAREA_LENGTH if t == "textarea" else TEXT_LENGTH
            if len(s) > limit or (t == "email" and not _EMAIL_RE.fullmatch(s.strip())):
                raise bad
            return s.strip() if t == "email" else s
        if t == "integer":
            n = to_int(v)
            if n is None or not -(2**63) <= n < 2**63:
                raise bad
            if (f.min_value is not None and n < f.min_value) or (
                f.max_value is not None and n > f.max_value
            ):
                raise bad
            return n
        if t == "bigint":
            if type(v) is str and re.fullmatch(r"-?\d+", v.strip()):
                return v.strip()
            n = to_int(v)
            if n is None:
                raise bad
            return str(n)
        if t in _DECIMAL_TYPES:
            x = to_float(v)
            if x is None:
                raise bad
            return round(x, 2) if t == "currency" else x
        if t == "boolean":
            if type(v) is bool:
                return v
            if type(v) is str and v.strip().lower() in ("true", "false"):
                return v.strip().lower() == "true"
            raise bad
        if t in ("date", "datetime"):
            if type(v) is DateTime:
                moment = v.dt if v.dt.tzinfo else v.dt.replace(tzinfo=self.tz)
            elif type(v) is str:
                parsed = parse_date_text(v, self.tz, self.month_first)
                if parsed is None:
                    raise bad
                moment = parsed
            else:
                raise bad
            if t == "date":
                return moment.astimezone(self.tz).date() if type(v) is DateTime else moment.date()
            return moment.replace(microsecond=0)
        if t == "multiselectpicklist":
            if type(v) is DelugeList:
                if any(type(x) in (DelugeList, DelugeMap) or x is None for x in v):
                    raise bad
                items = [text_form(x) for x in v]
            elif type(v) is str:
                items = [p.strip() for p in v.split(";")]
            else:
                raise bad
            items = [x for x in items if x]
            return items or None
        if t == "lookup":
            rid = id_of(v)
            if rid is None or self._where.get(rid) not in f.targets:
                raise bad
            return rid
        if t == "parent":
            rid = id_of(v)
            where = self._where.get(rid) if rid else None
            if type(v) is DelugeMap and se_module is None:
                inner = unwrap(v.get("module"))
                if type(inner) is DelugeMap and type(inner.get("api_name")) is str:
                    se_module = inner["api_name"]
            if se_module is not None:
                wanted = self._module(se_module)
                if wanted is None or wanted.api_name != where:
                    raise bad
            if rid is None or where is None:
                raise bad
            return rid, where
        raise bad

    def _new_id(self) -> str:
        rid = self._next_id
        self._next_id += ID_STEP
        return str(rid)

    def _commit(
        self,
        mod: ModuleDef,
        rec: dict[str, Any],
        existing: dict[str, Any] | None,
        *,
        workflow: bool,
        record: bool = True,
    ) -> str:
        """Store a prepared record (validation first) and return its id."""
        now = self.clock().replace(microsecond=0)
        if existing is None:
            if "id" not in rec or rec["id"] in self._where:
                rec["id"] = self._new_id()
            elif int(rec["id"]) >= self._next_id:
                self._next_id = int(rec["id"]) + ID_STEP
            rec.setdefault("Owner", self.user.id)
            rec.setdefault("Created_By", self.user.id)
            rec.setdefault("Modified_By", rec["Created_By"])
            rec.setdefault("Created_Time", now)
            rec.setdefault("Modified_Time", rec["Created_Time"])
        elif rec == existing:
            return str(rec["id"])  # nothing changed: succeeds and fires nothing (§12.4)
        elif record:
            rec["Modified_By"] = self.user.id
            rec["Modified_Time"] = now
        if self.validator is not None and record:
            blocked = self.validator(
                mod.api_name, "create" if existing is None else "update", self._read(mod, rec)
            )
            if blocked is not None:
                rule, message = blocked
                raise TaskFail(error_map("INVALID_DATA", {"validation_rule": rule}, message))
        self._records[mod.api_name][rec["id"]] = rec
        self._where[rec["id"]] = mod.api_name
        if record:
            action = "created" if existing is None else "updated"
            self.changes.append(Change(action, mod.api_name, rec["id"], workflow))
        return str(rec["id"])

    def _details(self, rec: Mapping[str, Any]) -> DelugeMap:
        return DelugeMap(
            Modified_Time=self._iso(rec["Modified_Time"]),
            Modified_By=self._user_map(rec["Modified_By"], email=False),
            Created_Time=self._iso(rec["Created_Time"]),
            id=rec["id"],
            Created_By=self._user_map(rec["Created_By"], email=False),
        )

    def _create(self, mod: ModuleDef, values: DelugeMap, row: int, workflow: bool) -> DelugeMap:
        rec = self._prepare(mod, values, None, row)
        rid = self._commit(mod, rec, None, workflow=workflow)
        return self._details(self._records[mod.api_name][rid])

    def _update(
        self, mod: ModuleDef, rid: str, values: DelugeMap, row: int, workflow: bool
    ) -> DelugeMap:
        existing = self._records[mod.api_name].get(rid)
        if existing is None:
            raise TaskFail(invalid_id_map(rid))
        rec = self._prepare(mod, values, existing, row)
        self._commit(mod, rec, existing, workflow=workflow)
        return self._details(self._records[mod.api_name][rid])

    # ------------------------------------------------------------------ tasks: reads

    def _t_getrecordbyid(
        self, task: str, module: Any, rid: Any, query: Any = None, _c: Any = None
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        record_id = id_arg(task, 2, rid)
        q = options_arg(task, 3, query)
        rec = self._records[mod.api_name].get(record_id)
        if rec is None:
            return invalid_id_map(record_id)
        return self._read(mod, rec, self._fields_param(mod, q))

    def _t_getrecords(
        self,
        task: str,
        module: Any,
        page: Any = 1,
        per_page: Any = MAX_PER_PAGE,
        query: Any = None,
        _c: Any = None,
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        p = int_arg(task, 2, page, 1)
        pp = int_arg(task, 3, per_page, MAX_PER_PAGE)
        q = options_arg(task, 4, query)
        return self._listing(mod, self._visible(mod, q), p, pp, q)

    def _t_searchrecords(
        self,
        task: str,
        module: Any,
        criteria: Any,
        page: Any = 1,
        per_page: Any = MAX_PER_PAGE,
        query: Any = None,
        _c: Any = None,
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        if type(criteria) is not str:
            raise type_error(task, 2, "TEXT", criteria)
        p = int_arg(task, 3, page, 1)
        pp = int_arg(task, 4, per_page, MAX_PER_PAGE)
        q = options_arg(task, 5, query)  # TEXT fifth argument is ignored (D-66)
        try:
            pred = compile_criteria(parse_criteria(criteria), self._field_types(mod), self.tz)
        except CriteriaLimitError as e:
            return error_map("LIMIT_EXCEEDED", {"limit": e.limit}, "limit exceeded")
        except CriteriaError as e:
            details: dict[str, Any] = {"reason": str(e)}
            if e.api_name is not None:
                details = {"api_name": e.api_name, "operator": e.operator, "reason": e.message}
            return error_map("INVALID_QUERY", details, "invalid query formed")
        matches = [r for r in self._visible(mod, q) if pred(self._read(mod, r))]
        return self._listing(mod, matches, p, pp, q, cap=MAX_SEARCH_MATCHES)

    # ------------------------------------------------------------------ tasks: writes

    def _t_createrecord(
        self, task: str, module: Any, values: Any, options: Any = None, _c: Any = None
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        data = record_arg(task, 2, values)
        opts = options_arg(task, 3, options)
        return self._create(mod, data, 0, wants_workflow(opts))

    def _t_updaterecord(
        self, task: str, module: Any, rid: Any, values: Any, options: Any = None, _c: Any = None
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        record_id = id_arg(task, 2, rid)
        data = record_arg(task, 3, values)
        opts = options_arg(task, 4, options)
        return self._update(mod, record_id, data, 0, wants_workflow(opts))

    def _t_upsert(
        self, task: str, module: Any, values: Any, options: Any = None, _c: Any = None
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        data = record_arg(task, 2, values)
        opts = options_arg(task, 3, options)
        workflow = wants_workflow(opts)
        id_key = next((k for k in data if type(k) is str and k.lower() == "id"), None)
        if id_key is not None and data[id_key] is not None:
            record_id = id_arg(task, 2, data[id_key])
            out = self._update(mod, record_id, data, 0, workflow)
            out.update(action="update", duplicate_field=None)
            return out
        dup = unwrap(query_get(opts, "duplicate_check_fields"))
        if type(dup) is DelugeList:
            names = [text_form(x) for x in dup]
        elif type(dup) is str:
            names = [x.strip() for x in dup.split(",")]
        else:
            names = list(mod.duplicate_fields)
        for name in names:
            f = mod.field(name)
            if f is None:
                continue
            raw = next(
                (v for k, v in data.items() if type(k) is str and k.lower() == f.api_name.lower()),
                None,
            )
            value = self._coerce(f, raw, 0, None)
            if is_empty(value):
                continue
            if f.type == "parent":
                value = value[0]
            for rec in sorted(
                self._visible(mod, DelugeMap(converted="both")), key=lambda r: int(r["id"])
            ):
                if _same(rec.get(f.api_name), value):
                    out = self._update(mod, rec["id"], data, 0, workflow)
                    out.update(action="update", duplicate_field=f.api_name)
                    return out
            break  # only the first duplicate-check field with a value counts
        out = self._create(mod, data, 0, workflow)
        out.update(action="insert", duplicate_field=None)
        return out

    def _t_bulkcreate(
        self, task: str, module: Any, rows: Any, options: Any = None, _c: Any = None
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        data = rows_arg(task, rows)
        workflow = wants_workflow(options_arg(task, 3, options))
        out = DelugeList()
        for i, row in enumerate(data):
            try:
                out.append(success_map(self._create(mod, row, i, workflow), "record added"))
            except TaskFail as fail:
                out.append(fail.error)
        return out

    def _t_bulkupdate(
        self, task: str, module: Any, rows: Any, options: Any = None, _c: Any = None
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        data = rows_arg(task, rows)
        workflow = wants_workflow(options_arg(task, 3, options))
        out = DelugeList()
        for i, row in enumerate(data):
            raw = next((v for k, v in row.items() if type(k) is str and k.lower() == "id"), None)
            rid = id_of(raw)
            try:
                if raw is None:
                    raise TaskFail(
                        error_map(
                            "MANDATORY_NOT_FOUND",
                            {"api_name": "id", "json_path": f"$.data[{i}].id"},
                            "required field not found",
                        )
                    )
                if rid is None or rid not in self._records[mod.api_name]:
                    raise TaskFail(
                        error_map(
                            "INVALID_DATA",
                            {"api_name": "id", "json_path": f"$.data[{i}].id"},
                            "the id given seems to be invalid",
                        )
                    )
                out.append(success_map(self._update(mod, rid, row, i, workflow), "record updated"))
            except TaskFail as fail:
                out.append(fail.error)
        return out

    # ------------------------------------------------------------------ tasks: relations

    def _relations(self, parent: ModuleDef) -> dict[str, _Relation]:
        rels: dict[str, _Relation] = {}
        for child in self.modules.values():
            if child.api_name in ("Tasks", "Notes"):
                continue
            links = [
                f
                for f in child.fields.values()
                if f.type == "lookup" and parent.api_name in f.targets
            ]
            for f in links:
                name = child.api_name if len(links) == 1 else f"{child.api_name}_{f.api_name}"
                rels[name.lower()] = _Relation(name, "lookup", child.api_name, (f.api_name,))
        rels["tasks"] = _Relation("Tasks", "tasks", "Tasks", ("What_Id", "Who_Id"))
        rels["notes"] = _Relation("Notes", "notes", "Notes", ("Parent_Id",))
        rels["attachments"] = _Relation("Attachments", "attachments", "", ())
        return rels

    def _relation_arg(self, task: str, name: Any, parent: ModuleDef) -> _Relation:
        if type(name) is not str:
            raise type_error(task, 1, "TEXT", name)
        rel = self._relations(parent).get(name.strip().lower())
        if rel is None:
            raise TaskFail(
                error_map(
                    "INVALID_DATA",
                    {"api_name": "relation_name", "relation_name": name},
                    "the relation name given seems to be invalid",
                )
            )
        return rel

    def _t_getrelatedrecords(
        self,
        task: str,
        relation: Any,
        module: Any,
        pid: Any,
        page: Any = 1,
        per_page: Any = MAX_PER_PAGE,
        query: Any = None,
        _c: Any = None,
    ) -> Any:
        parent = self._module_arg(task, 2, module)
        parent_id = id_arg(task, 3, pid)
        rel = self._relation_arg(task, relation, parent)
        p = int_arg(task, 4, page, 1)
        pp = int_arg(task, 5, per_page, MAX_PER_PAGE)
        q = options_arg(task, 6, query)
        if parent_id not in self._records[parent.api_name]:
            return DelugeList()
        if rel.kind == "attachments":
            atts = sorted(self.attachments(parent_id), key=lambda a: int(a["id"]), reverse=True)
            start = (max(p, 1) - 1) * min(max(pp, 1), MAX_PER_PAGE)
            return DelugeList(
                self._read_attachment(a)
                for a in atts[start : start + min(max(pp, 1), MAX_PER_PAGE)]
            )
        child = self.modules[rel.child]
        recs = [
            r
            for r in self._records[child.api_name].values()
            if any(r.get(f) == parent_id for f in rel.fields)
        ]
        return self._listing(child, recs, p, pp, q)

    def _t_updaterelatedrecord(
        self,
        task: str,
        relation: Any,
        related_id: Any,
        module: Any,
        pid: Any,
        data: Any = None,
        _c: Any = None,
    ) -> Any:
        parent = self._module_arg(task, 3, module)
        rid = id_arg(task, 2, related_id)
        parent_id = id_arg(task, 4, pid)
        rel = self._relation_arg(task, relation, parent)
        values = DelugeMap(options_arg(task, 5, data))
        if parent_id not in self._records[parent.api_name]:
            return invalid_id_map(parent_id)
        if rel.kind in ("notes", "attachments"):
            return error_map("NOT_SUPPORTED", {}, "not supported")
        child = self.modules[rel.child]
        if rid not in self._records[child.api_name]:
            return invalid_id_map(rid)
        if rel.kind == "tasks":
            link = "Who_Id" if parent.api_name in ("Contacts", "Leads") else "What_Id"
        else:
            link = rel.fields[0]
        values[link] = parent_id
        self._update(child, rid, values, 0, workflow=False)
        return success_map(DelugeMap(id=rid), "relation added")

    def _read_attachment(self, a: Mapping[str, Any]) -> DelugeMap:
        return DelugeMap(
            Owner=self._user_map(a["Owner"]),
            File_Name=a["File_Name"],
            Size=str(a["Size"]),
            Parent_Id=DelugeMap(name=self._name_of(a["Parent_Id"]), id=a["Parent_Id"]),
            **{"$se_module": a["$se_module"]},
            Created_By=self._user_map(a["Created_By"]),
            Modified_By=self._user_map(a["Modified_By"]),
            Created_Time=self._iso(a["Created_Time"]),
            Modified_Time=self._iso(a["Modified_Time"]),
            id=a["id"],
        )

    def _t_attachfile(self, task: str, module: Any, rid: Any, file: Any, _c: Any = None) -> Any:
        mod = self._module_arg(task, 1, module)
        record_id = id_arg(task, 2, rid)
        if type(file) is not File:
            raise type_error(task, 3, "FILE", file)
        if record_id not in self._records[mod.api_name]:
            return invalid_id_map(record_id)
        now = self.clock().replace(microsecond=0)
        att_id = self._new_id()
        att: dict[str, Any] = {
            "id": att_id,
            "File_Name": file.name,
            "Size": len(file.content),
            "content": file.content,
            "content_type": file.content_type,
            "Parent_Id": record_id,
            "$se_module": mod.api_name,
            "Owner": self.user.id,
            "Created_By": self.user.id,
            "Modified_By": self.user.id,
            "Created_Time": now,
            "Modified_Time": now,
        }
        self._attachments[att_id] = att
        self.changes.append(Change("attached", mod.api_name, record_id, False))
        return success_map(self._details(att), "attachment uploaded")

    # ------------------------------------------------------------------ tasks: other

    def _t_convertlead(self, task: str, lead_id: Any, values: Any = None, _c: Any = None) -> Any:
        rid = id_arg(task, 1, lead_id)
        opts = options_arg(task, 2, values)
        lead = self._records["Leads"].get(rid)
        if lead is None:
            return invalid_id_map(rid)
        if lead.get("$converted"):
            return error_map(
                "INVALID_DATA", {"api_name": "id", "id": rid}, "the lead has already been converted"
            )
        owner = lead.get("Owner", self.user.id)
        if query_get(opts, "assign_to") is not None:
            owner = id_of(query_get(opts, "assign_to")) or ""
            if owner not in self.users:
                return error_map(
                    "INVALID_DATA",
                    {"api_name": "assign_to", "json_path": "$.data[0].assign_to"},
                    "invalid data",
                )
        account_id = self._existing(opts, "Accounts")
        contact_id = self._existing(opts, "Contacts")
        deal_values = unwrap(query_get(opts, "Deals"))
        deals = self.modules["Deals"]
        deal_rec = None
        if type(deal_values) is DelugeMap and deal_values:
            deal_rec = self._prepare(deals, deal_values, None, 0)  # fails before any write
        if account_id is None and lead.get("Company"):
            acc = {
                dst: lead.get(src)
                for src, dst in LEAD_TO_ACCOUNT.items()
                if lead.get(src) is not None
            }
            acc["Owner"] = owner
            account_id = self._commit(self.modules["Accounts"], acc, None, workflow=False)
        contacts = self.modules["Contacts"]
        person = {
            dst: lead.get(src) for src, dst in LEAD_TO_CONTACT.items() if lead.get(src) is not None
        }
        if account_id is not None:
            person["Account_Name"] = account_id
        if contact_id is None:
            person["Owner"] = owner
            contact_id = self._commit(contacts, person, None, workflow=False)
        elif query_get(opts, "overwrite") is True:
            existing = self._records["Contacts"][contact_id]
            self._commit(contacts, {**existing, **person}, existing, workflow=False)
        deal_id = None
        if deal_rec is not None:
            deal_rec.setdefault("Owner", owner)
            if account_id is not None:
                deal_rec["Account_Name"] = account_id
            deal_rec["Contact_Name"] = contact_id
            deal_id = self._commit(deals, deal_rec, None, workflow=False)
        converted = {**lead, "$converted": True}
        self._commit(self.modules["Leads"], converted, lead, workflow=False, record=False)
        self.changes.append(Change("converted", "Leads", rid, False))
        return DelugeMap(Contacts=contact_id, Accounts=account_id, Deals=deal_id)

    def _existing(self, opts: Mapping[str, Any], module: str) -> str | None:
        raw = query_get(opts, module)
        if raw is None or raw == "":
            return None
        rid = id_of(raw)
        if rid is None or rid not in self._records[module]:
            raise TaskFail(
                error_map(
                    "INVALID_DATA",
                    {"api_name": module, "id": raw if type(raw) is str else text_form(raw)},
                    "the id given seems to be invalid",
                )
            )
        return rid

    def _t_getorgvariable(self, task: str, name: Any, _c: Any = None) -> Any:
        if type(name) is not str:
            raise type_error(task, 1, "TEXT", name)
        if name in self.org_variables:
            return self.org_variables[name]
        low = name.lower()
        return next((v for k, v in self.org_variables.items() if k.lower() == low), None)

    def _t_invokeconnector(self, task: str, operation: Any, params: Any) -> Any:
        if type(operation) is not str:
            raise type_error(task, 1, "TEXT", operation)
        p = record_arg(task, 2, params)
        op = operation.strip().lower()
        if op == "crm.zapikey":
            return DelugeMap(status_code="200", response=self.zapikey)
        if op not in ("crm.set", "crm.get"):
            return error_map("NOT_SUPPORTED", {}, "not supported")
        api = query_get(p, "apiname")
        if type(api) is not str or not api:
            return DelugeMap(
                status_code="400",
                response=to_json_text(DelugeMap(message="apiname is missing")),
            )
        if op == "crm.set":
            value = query_get(p, "value")
            self.org_variables[api] = "" if value is None else text_form(value)
            body = DelugeMap({api: self.org_variables[api]})
            body["message"] = "New value updated successfully."
        else:
            body = DelugeMap({api: self._t_getorgvariable(task, api)})
        return DelugeMap(status_code="200", response=to_json_text(body))

    def _t_raisesignal(self, task: str, signal: Any, _c: Any = None) -> Any:
        return error_map("NOT_SUPPORTED", {}, "not supported")


_SYSTEM_KEYS: Final = {
    "id": "id",
    "created_time": "Created_Time",
    "modified_time": "Modified_Time",
    "created_by": "Created_By",
    "modified_by": "Modified_By",
}


def _same(a: Any, b: Any) -> bool:
    if type(a) is str and type(b) is str:
        return a.casefold() == b.casefold()
    return a is not None and a == b


def _sortable(v: Any) -> Any:
    if type(v) is str:
        return int(v) if v.isdigit() else v.casefold()
    if type(v) is list:
        return ";".join(v).casefold()
    return v
