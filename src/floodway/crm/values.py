"""Field values: REST input -> stored JSON form -> REST output (zoho-rest-compat.md §3.8).

Stored form (the records' JSON column, docs/crm-data-model.md): text types as strings, integers
and bigints as JSON integers, decimals/currency/percent as JSON numbers, booleans as JSON
booleans, dates as ``yyyy-MM-dd``, date-times as UTC ``yyyy-MM-ddTHH:mm:ssZ`` (so text order is
time order in SQL), multi-select values as arrays, lookups as id strings (the parent lookups
``What_Id`` / ``Parent_Id`` keep their module in ``$se_module``). Empty values are not stored.

Input is as strict as Zoho's REST API: dates only ``yyyy-MM-dd``, date-times ISO 8601 with an
offset or ``Z``; a value that does not fit is ``INVALID_DATA`` with ``expected_data_type``.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from decimal import Decimal
from typing import Any, Final

from .errors import MSG_INVALID_DATA, RowError, row_error
from .standard import DATA_TYPES, FieldDef

_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL_RE: Final = re.compile(r"\S+\.\S+|\S+://\S+")
_INT_RE: Final = re.compile(r"[+-]?\d+")
_NUM_RE: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATE_RE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})"
)
TEXT_TYPES: Final = frozenset({"text", "textarea", "email", "phone", "url", "picklist"})
DECIMAL_TYPES: Final = frozenset({"decimal", "currency", "percent"})
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


def invalid(f: FieldDef, row: int, path: str | None = None) -> RowError:
    return RowError(
        row_error(
            "INVALID_DATA",
            {
                "api_name": f.api_name,
                "expected_data_type": DATA_TYPES.get(f.type, (f.type,))[0],
                "json_path": f"$.data[{row}].{path or f.api_name}",
            },
            MSG_INVALID_DATA,
        )
    )


def id_of(value: Any) -> int | None:
    """A record or user id from a number, digit text or ``{"id": …}``; None when not one."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= INT64_MAX else None
    if isinstance(value, str):
        s = value.strip()
        if s.isascii() and s.isdigit() and 0 < int(s) <= INT64_MAX:
            return int(s)
    return None


def format_utc(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rest_datetime(text: str) -> _dt.datetime | None:
    """ISO 8601 with an explicit offset or ``Z`` (what REST clients send); None otherwise."""
    m = _DATETIME_RE.fullmatch(text.strip())
    if not m:
        return None
    off = m[8]
    if off == "Z":
        zone: _dt.tzinfo = _dt.UTC
    else:
        o = off.replace(":", "")
        sign = -1 if o[0] == "-" else 1
        hours, minutes = int(o[1:3]), int(o[3:5])
        if hours > 23 or minutes > 59:
            return None
        zone = _dt.timezone(sign * _dt.timedelta(hours=hours, minutes=minutes))
    try:
        return _dt.datetime(
            int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0), tzinfo=zone
        )
    except ValueError:
        return None


def coerce(f: FieldDef, raw: Any, row: int) -> Any:
    """A REST input value for field ``f`` in stored form; None clears. Raises ``RowError``.

    Lookups are only checked for form here (the caller checks that the target exists)."""
    t = f.type
    if raw is None:
        return None
    if isinstance(raw, str) and raw.strip() == "" and t != "multiselectpicklist":
        return None
    if t in TEXT_TYPES or t == "autonumber":
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise invalid(f, row)
        s = raw if isinstance(raw, str) else _number_text(raw)
        if t == "email":
            s = s.strip()
            if not _EMAIL_RE.fullmatch(s):
                raise invalid(f, row)
        elif t == "url":
            s = s.strip()
            if not _URL_RE.fullmatch(s):
                raise invalid(f, row)
        limit = f.max_length
        if limit is not None and len(s) > limit:
            raise invalid(f, row)
        return s
    if t == "integer":
        n = _to_int(raw)
        if n is None or not -(2**31) <= n < 2**31:
            raise invalid(f, row)
        if (f.min_value is not None and n < f.min_value) or (
            f.max_value is not None and n > f.max_value
        ):
            raise invalid(f, row)
        return n
    if t == "bigint":
        n = _to_int(raw)
        if n is None or not INT64_MIN <= n <= INT64_MAX:
            raise invalid(f, row)
        return n
    if t in DECIMAL_TYPES:
        x = _to_float(raw)
        if x is None:
            raise invalid(f, row)
        if (f.min_value is not None and x < f.min_value) or (
            f.max_value is not None and x > f.max_value
        ):
            raise invalid(f, row)
        if t == "currency":
            x = round(x, 2)
        return int(x) if x.is_integer() and abs(x) < 2**53 else x
    if t == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise invalid(f, row)
    if t == "date":
        if not isinstance(raw, str):
            raise invalid(f, row)
        m = _DATE_RE.fullmatch(raw.strip())
        if not m:
            raise invalid(f, row)
        try:
            return _dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            raise invalid(f, row) from None
    if t == "datetime":
        if not isinstance(raw, str):
            raise invalid(f, row)
        moment = parse_rest_datetime(raw)
        if moment is None:
            raise invalid(f, row)
        return format_utc(moment)
    if t == "multiselectpicklist":
        if isinstance(raw, str):
            items = [p.strip() for p in raw.split(";")]
        elif isinstance(raw, list):
            items = []
            for x in raw:
                if isinstance(x, bool) or not isinstance(x, (str, int, float)):
                    raise invalid(f, row)
                items.append(x.strip() if isinstance(x, str) else _number_text(x))
        else:
            raise invalid(f, row)
        out: list[str] = []
        for x in items:
            if x and x not in out:
                out.append(x)
        return out or None
    if t in ("lookup", "parent"):
        rid = id_of(raw)
        if rid is None:
            raise invalid(f, row)
        return str(rid)
    raise invalid(f, row)


def _number_text(v: int | float) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


def _to_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if math.isfinite(v) and v.is_integer() else None
    if isinstance(v, str) and _INT_RE.fullmatch(v.strip()):
        return int(v.strip())
    return None


def _to_float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float, Decimal)):
        x = float(v)
    elif isinstance(v, str) and _NUM_RE.fullmatch(v.strip()):
        x = float(v.strip())
    else:
        return None
    return x if math.isfinite(x) else None


def same_value(a: Any, b: Any) -> bool:
    """Equality used for unique checks and change detection (text ignores case)."""
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    return a is not None and a == b


def output(f: FieldDef, stored: Any, tz: _dt.tzinfo) -> Any:
    """A stored value in REST output form (lookups are rendered by the caller)."""
    if stored is None:
        return None
    t = f.type
    if t == "datetime":
        try:
            moment = _dt.datetime.strptime(stored, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.UTC)
        except (TypeError, ValueError):
            return stored
        return moment.astimezone(tz).isoformat(timespec="seconds")
    if t == "bigint":
        return str(stored)
    if t in DECIMAL_TYPES and isinstance(stored, int):
        return float(stored)
    return stored


def ms_to_iso(ms: int, tz: _dt.tzinfo) -> str:
    return _dt.datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="seconds")


def ms_to_utc_text(ms: int) -> str:
    return format_utc(_dt.datetime.fromtimestamp(ms / 1000, _dt.UTC))
