"""``zoho.crm.*`` between Deluge and the CRM: value conversions, argument rules, task table.

One CRM serves the CRM tasks of deluge-language.md §12: the real store, through ``StoreTasks``
(``crm_tasks.py``), used by the live host (and, on an ephemeral store, by ``floodway run`` without
``--data``). The pieces are:

- the task table (names, aliases, argument counts) and the argument rules (module as TEXT, ids
  as NUMBER or digit TEXT, MAP / options arguments, a TEXT options argument is the ignored
  connection name);
- dates written as text in any §8.6 form (``parse_date_text``) and the trigger option (§12.5);
- the error maps of §12.7 (``error_map``), never raised (D-29): ``TaskFail`` carries one out of
  a task; only argument *types* a script got wrong raise ``DelugeRuntimeError``;
- Deluge values -> REST input (``field_input``), REST output -> Deluge values (``from_plain``).

``StoreTasks`` maps each task onto ``crm.records`` / ``crm.metadata`` as the run-as user with
channel ``function``: the CRM validates and emits the record-change events exactly as for a REST
write, and each task commits on its own (DOS-4). Deluge's lenient input (dates as
``31-Mar-2026``, ``"40.0"`` for an integer, booleans for text) is turned into the strict REST form
first; what cannot be turned is passed on unchanged so that the CRM reports ``INVALID_DATA``
with its ``expected_data_type``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from floodway.crm.criteria import parse_datetime
from floodway.deluge import datetimes as dts
from floodway.deluge.errors import DelugeRuntimeError
from floodway.deluge.values import (
    Collection,
    DateTime,
    DelugeList,
    DelugeMap,
    File,
    text_form,
    type_name,
)

if TYPE_CHECKING:
    from floodway.crm.standard import ModuleDef

MAX_PER_PAGE: Final = 200
MAX_BULK_ROWS: Final = 100
MAX_SEARCH_MATCHES: Final = 2000
MSG_INVALID_ID: Final = "the id given seems to be invalid"
INVALID_MODULE: Final = ("INVALID_MODULE", "the module name given seems to be invalid")
_INT_RE: Final = re.compile(r"[+-]?\d+(?:\.0*)?")
_NUM_RE: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_TEXT_TYPES: Final = frozenset({"text", "textarea", "email", "phone", "url", "picklist"})
_DECIMAL_TYPES: Final = frozenset({"decimal", "currency", "percent"})
_VERSION_PREFIX: Final = re.compile(r"^v\d+(?:_\d+)?\.")

# task (lower-case) -> canonical name, min and max argument counts (connection included)
TASKS: Final = {
    "getrecordbyid": ("getRecordById", 2, 4),
    "getrecords": ("getRecords", 1, 5),
    "searchrecords": ("searchRecords", 2, 6),
    "createrecord": ("createRecord", 2, 4),
    "updaterecord": ("updateRecord", 3, 5),
    "upsert": ("upsert", 2, 4),
    "bulkcreate": ("bulkCreate", 2, 4),
    "bulkupdate": ("bulkUpdate", 2, 4),
    "getrelatedrecords": ("getRelatedRecords", 3, 7),
    "updaterelatedrecord": ("updateRelatedRecord", 4, 6),
    "attachfile": ("attachFile", 3, 4),
    "convertlead": ("convertLead", 1, 3),
    "getorgvariable": ("getOrgVariable", 1, 2),
    "invokeconnector": ("invokeConnector", 2, 2),
    "raisesignal": ("raiseSignal", 1, 2),
}
LEAD_TO_CONTACT: Final = {
    "Salutation": "Salutation",
    "First_Name": "First_Name",
    "Last_Name": "Last_Name",
    "Full_Name": "Full_Name",
    "Email": "Email",
    "Phone": "Phone",
    "Mobile": "Mobile",
    "Designation": "Title",
    "Lead_Source": "Lead_Source",
    "Description": "Description",
    "Email_Opt_Out": "Email_Opt_Out",
    "Street": "Mailing_Street",
    "City": "Mailing_City",
    "State": "Mailing_State",
    "Zip_Code": "Mailing_Zip",
    "Country": "Mailing_Country",
}
LEAD_TO_ACCOUNT: Final = {
    "Company": "Account_Name",
    "Phone": "Phone",
    "Website": "Website",
    "Industry": "Industry",
    "Annual_Revenue": "Annual_Revenue",
    "Street": "Billing_Street",
    "City": "Billing_City",
    "State": "Billing_State",
    "Zip_Code": "Billing_Code",
    "Country": "Billing_Country",
}


# --------------------------------------------------------------------------------------------
# Errors and results


class TaskFail(Exception):
    """Carries an error map out of a task; ``crm_task`` returns it (D-29)."""

    def __init__(self, error: DelugeMap) -> None:
        super().__init__(error.get("code"))
        self.error = error


def error_map(code: str, details: Mapping[str, Any], message: str) -> DelugeMap:
    return DelugeMap(code=code, details=DelugeMap(details), message=message, status="error")


def invalid_id_map(value: Any) -> DelugeMap:
    shown = value if type(value) is str or value is None else text_form(value)
    return error_map("INVALID_DATA", {"api_name": "id", "id": shown}, MSG_INVALID_ID)


def invalid_module_map() -> DelugeMap:
    return error_map(INVALID_MODULE[0], {}, INVALID_MODULE[1])


def not_supported_map() -> DelugeMap:
    return error_map("NOT_SUPPORTED", {}, "not supported")


def invalid_relation_map(name: Any) -> DelugeMap:
    return error_map(
        "INVALID_DATA",
        {"api_name": "relation_name", "relation_name": name},
        "the relation name given seems to be invalid",
    )


def success_map(details: DelugeMap, message: str) -> DelugeMap:
    return DelugeMap(code="SUCCESS", details=details, message=message, status="success")


def type_error(task: str, pos: int, expected: str, value: Any) -> DelugeRuntimeError:
    return DelugeRuntimeError(
        f"Argument {pos} of zoho.crm.{task} must be {expected}, found {type_name(value)}"
    )


def resolve_task(task: str, nargs: int) -> tuple[str, str]:
    """(lower-case name, canonical name) of ``zoho.crm.<task>``; v-prefixes and the legacy
    ``create``/``update`` aliases resolved (§12.6). Raises for unknown tasks and wrong counts."""
    name = _VERSION_PREFIX.sub("", task.lower())
    name = {"create": "createrecord", "update": "updaterecord"}.get(name, name)
    spec = TASKS.get(name)
    if spec is None:
        raise DelugeRuntimeError(f"'zoho.crm.{task}' is not a CRM task")
    canonical, lo, hi = spec
    if not lo <= nargs <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise DelugeRuntimeError(f"zoho.crm.{canonical} expects {want} arguments, found {nargs}")
    return name, canonical


# --------------------------------------------------------------------------------------------
# Arguments


def unwrap(v: Any) -> Any:
    if type(v) is Collection:
        return v.value
    return v


def query_get(query: Mapping[str, Any], key: str) -> Any:
    if key in query:
        return query[key]
    low = key.lower()
    return next((v for k, v in query.items() if type(k) is str and k.lower() == low), None)


def wants_workflow(options: Mapping[str, Any]) -> bool:
    """Whether the options' ``trigger`` asks for workflow rules (absent: no, §12.5)."""
    trig = unwrap(query_get(options, "trigger"))
    if type(trig) is str:
        items = [trig]
    elif type(trig) is DelugeList:
        items = [text_form(x) for x in trig]
    else:
        return False
    return any(x.strip().lower() == "workflow" for x in items)


def id_of(value: Any) -> str | None:
    """A record or user id from NUMBER, digit TEXT or a MAP with ``id``."""
    v = unwrap(value)
    if type(v) is DelugeMap:
        v = unwrap(query_get(v, "id"))
    if type(v) is int and v > 0:
        return str(v)
    if type(v) is str and v.strip().isdigit() and v.strip().isascii() and int(v) > 0:
        return str(int(v))
    return None


def id_arg(task: str, pos: int, value: Any) -> str:
    if type(value) is int:
        if value > 0:
            return str(value)
        raise TaskFail(invalid_id_map(value))
    if type(value) is str:
        t = value.strip()
        if t.isdigit() and t.isascii() and 0 < int(t) < 2**63:
            return str(int(t))
        raise TaskFail(invalid_id_map(value))
    if value is None:
        raise TaskFail(invalid_id_map(None))
    raise type_error(task, pos, "NUMBER or TEXT", value)


def record_arg(task: str, pos: int, value: Any) -> DelugeMap:
    v = unwrap(value)
    if v is None and type(value) is Collection:
        return DelugeMap()
    if type(v) is not DelugeMap:
        raise type_error(task, pos, "MAP", value)
    return v


def options_arg(task: str, pos: int, value: Any) -> DelugeMap:
    """An optional options/query MAP; TEXT there is the connection name (ignored)."""
    if value is None or type(value) is str:
        return DelugeMap()
    return record_arg(task, pos, value)


def int_arg(task: str, pos: int, value: Any, default: int) -> int:
    if value is None:
        return default
    if type(value) is int:
        return value
    if type(value) is str and value.strip().isdigit():
        return int(value.strip())
    raise type_error(task, pos, "NUMBER", value)


def rows_arg(task: str, rows: Any) -> list[DelugeMap]:
    """The LIST of record maps of ``bulkCreate`` / ``bulkUpdate`` (at most 100)."""
    v = unwrap(rows)
    if v is None and type(rows) is Collection:
        return []
    if type(v) is not DelugeList:
        raise type_error(task, 2, "LIST", rows)
    if len(v) > MAX_BULK_ROWS:
        raise TaskFail(error_map("LIMIT_EXCEEDED", {"limit": MAX_BULK_ROWS}, "limit exceeded"))
    return [record_arg(task, 2, r) for r in v]


def fields_param(query: Mapping[str, Any]) -> list[str] | None:
    """The ``fields`` query entry as a list of names (None = all fields)."""
    raw = query_get(query, "fields")
    if raw is None or raw == "":
        return None
    items = [text_form(x) for x in raw] if type(raw) is DelugeList else text_form(raw).split(",")
    names = [x.strip() for x in items if x.strip()]
    return names or None


def to_int(v: Any) -> int | None:
    if type(v) is int:
        return v
    if type(v) is float:
        return int(v) if v.is_integer() else None
    if type(v) is str and _INT_RE.fullmatch(v.strip()):
        return int(v.strip().split(".")[0])
    return None


def to_float(v: Any) -> float | None:
    if type(v) in (int, float):
        return float(v)
    if type(v) is str and _NUM_RE.fullmatch(v.strip()):
        return float(v.strip())
    return None


# --------------------------------------------------------------------------------------------
# Dates written as text (§8.6)


def parse_date_text(text: str, tz: _dt.tzinfo, month_first: bool = True) -> _dt.datetime | None:
    """A date or date-time written in any §8.6 form, in zone ``tz``; None when it is no date.

    The same reading as the language's own date conversions (``deluge.datetimes``), plus ISO
    8601 with an offset as the CRM returns it."""
    t = text.strip()
    iso = parse_datetime(t, tz)
    if iso is not None:
        return iso
    try:
        return dts.parse_date_text(t, tz, month_first, _dt.datetime.now(tz)).dt
    except DelugeRuntimeError:
        return None


# --------------------------------------------------------------------------------------------
# Values: Deluge <-> plain / REST


def from_plain(v: Any) -> Any:
    """Plain Python data (JSON-like, dates) as Deluge values: REST output, seeds, arguments."""
    t = type(v)
    if t is str or t is int or t is bool or t is float or v is None:
        return v
    if t is DelugeMap or t is DelugeList or t is DateTime or t is File or t is Collection:
        return v
    if isinstance(v, Mapping):
        return DelugeMap((k if type(k) is str else str(k), from_plain(x)) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return DelugeList(from_plain(x) for x in v)
    if isinstance(v, _dt.datetime):
        return DateTime(v if v.tzinfo else v.replace(tzinfo=_dt.UTC))
    if isinstance(v, _dt.date):
        return DateTime(_dt.datetime(v.year, v.month, v.day, tzinfo=_dt.UTC), date_only=True)
    return v


def to_rest(v: Any) -> Any:
    """A Deluge value as plain JSON-like data, structure kept (no field type known)."""
    v = unwrap(v)
    t = type(v)
    if t is DelugeMap:
        return {(k if type(k) is str else text_form(k)): to_rest(x) for k, x in v.items()}
    if t is DelugeList:
        return [to_rest(x) for x in v]
    if t is DateTime:
        return text_form(v)
    if t is File:
        return {"$file": v.name}  # never valid field input: the CRM answers INVALID_DATA
    return v


def field_input(ftype: str, raw: Any, tz: _dt.tzinfo, month_first: bool = True) -> Any:
    """A Deluge value written to a field of type ``ftype`` in REST input form (§12.2, D-31).

    Values Deluge accepts but REST does not (dates as ``31-Mar-2026``, ``"40.0"``, booleans for
    text, DATE-TIMEs) are converted; anything else is passed on for the CRM to reject."""
    v = unwrap(raw)
    t = type(v)
    if v is None:
        return None
    if ftype in _TEXT_TYPES or ftype == "autonumber":
        if t in (DelugeList, DelugeMap, File):
            return to_rest(v)
        return text_form(v)
    if ftype in ("integer", "bigint"):
        if t is bool:
            return v
        n = to_int(v)
        return v if n is None else n
    if ftype in _DECIMAL_TYPES:
        if t is bool:
            return v
        x = to_float(v)
        return to_rest(v) if x is None else x
    if ftype == "boolean":
        return to_rest(v)
    if ftype in ("date", "datetime"):
        if t is DateTime:
            moment = v.dt if v.dt.tzinfo else v.dt.replace(tzinfo=tz)
        elif t is str:
            if not v.strip():
                return None
            parsed = parse_date_text(v, tz, month_first)
            if parsed is None:
                return v
            if ftype == "date":
                return parsed.date().isoformat()
            moment = parsed
        else:
            return to_rest(v)
        if ftype == "date":
            return moment.astimezone(tz).date().isoformat()
        return moment.replace(microsecond=0).isoformat()
    if ftype == "multiselectpicklist":
        if t is DelugeList:
            if any(type(x) in (DelugeList, DelugeMap, File) or x is None for x in v):
                return to_rest(v)
            return [text_form(x) for x in v]
        return to_rest(v)
    if ftype in ("lookup", "parent"):
        if t is int:
            return str(v)
        return to_rest(v)
    return to_rest(v)


def record_input(
    mod: ModuleDef, values: Mapping[Any, Any], tz: _dt.tzinfo, month_first: bool = True
) -> dict[str, Any]:
    """A Deluge record map as a REST row for ``mod``: known fields converted by type; ``id``,
    ``Owner`` and ``$`` keys kept; keys matching no field dropped (they are ignored, §12.1)."""
    out: dict[str, Any] = {}
    for key, raw in values.items():
        k = key if type(key) is str else text_form(key)
        low = k.lower()
        if low in ("id", "owner") or k.startswith("$") or low == "se_module":
            out[k] = to_rest(raw)
            continue
        f = mod.field(k)
        if f is None:
            continue
        out[f.api_name] = field_input(f.type, raw, tz, month_first)
    return out
