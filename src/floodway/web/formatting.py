"""How record values, times and ids look on console pages.

Values become ``Shown`` (text plus an optional link) rather than HTML: the templates turn them
into markup with autoescaping on, so no record, execution or function text is ever marked safe
(security.md AUTH-9, AUTH-10).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from jinja2 import Environment

NUMERIC: Final = frozenset({"integer", "bigint", "decimal", "currency", "percent"})


@dataclass(frozen=True, slots=True)
class Shown:
    text: str
    href: str | None = None
    external: bool = False  # opens in a new tab with rel="noopener noreferrer"
    mono: bool = False
    empty: bool = False


EMPTY: Final = Shown("—", empty=True)


def safe_http_url(url: Any) -> str | None:
    """The URL when it is http(s) (AUTH-10), else None: never ``javascript:`` or ``data:``."""
    if not isinstance(url, str):
        return None
    u = url.strip()
    low = u.lower()
    if (low.startswith("http://") or low.startswith("https://")) and not any(
        c in u for c in "\r\n\t "
    ):
        return u
    return None


def show(value: Any, ftype: str, *, targets: tuple[str, ...] = (), symbol: str = "") -> Shown:
    """A record value of a field type as text and link."""
    if value is None or value == "" or value == []:
        return EMPTY
    if ftype in ("lookup", "parent", "ownerlookup") and isinstance(value, dict):
        name = str(value.get("name") or value.get("id") or "")
        rid = value.get("id")
        module = None
        if isinstance(value.get("module"), dict):
            module = value["module"].get("api_name")
        module = module or (targets[0] if targets else None)
        if ftype == "ownerlookup" or not module or not rid:
            return Shown(name)
        return Shown(name, href=f"/m/{module}/{rid}")
    if ftype == "boolean":
        return Shown("Yes" if value else "No")
    if ftype == "multiselectpicklist" and isinstance(value, list):
        return Shown(", ".join(str(v) for v in value))
    if ftype == "url":
        href = safe_http_url(value)
        return Shown(str(value), href=href, external=href is not None)
    if ftype == "email":
        return Shown(str(value), href="mailto:" + str(value))
    if ftype == "currency":
        return Shown(f"{symbol}{number(value, 2)}" if symbol else number(value, 2))
    if ftype in ("decimal", "percent"):
        text = number(value, None)
        return Shown(text + (" %" if ftype == "percent" else ""))
    if ftype in ("integer", "bigint"):
        return Shown(number(value, 0))
    if ftype == "datetime":
        return Shown(short_time(value))
    if isinstance(value, dict | list):
        return Shown(json.dumps(value, ensure_ascii=False))
    return Shown(str(value))


def number(value: Any, places: int | None) -> str:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if places is None:
        text = format(d, ",f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return format(d.quantize(Decimal(1).scaleb(-places)) if places else d, f",.{places}f")


def short_time(value: Any) -> str:
    """``2026-11-27 15:11`` from an ISO time with offset (already in the org's zone)."""
    if not isinstance(value, str):
        return "" if value is None else str(value)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return dt.strftime("%Y-%m-%d %H:%M")


def relative(value: Any, now: datetime | None = None) -> str:
    """ "12 min ago" for times under a day, else the short absolute time."""
    if not isinstance(value, str):
        return ""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    now = now or datetime.now(UTC)
    seconds = (now - dt).total_seconds()
    if 0 <= seconds < 60:
        return "just now"
    if 0 <= seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if 0 <= seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return dt.strftime("%Y-%m-%d %H:%M")


def short_id(value: Any) -> str:
    text = str(value or "")
    return "…" + text[-6:] if len(text) > 8 else text


def pretty_json(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def install(env: Environment) -> None:
    env.filters["short_time"] = short_time
    env.filters["relative"] = relative
    env.filters["short_id"] = short_id
    env.filters["pretty_json"] = pretty_json
    env.filters["number"] = number
    env.globals["show"] = show
