"""Lenient request parsing (zoho-rest-compat.md §3.3, §3.4, §3.7).

Real Zoho clients send JSON without a ``Content-Type`` (the official SDKs) or as ``text/plain``
(Deluge), append unknown query parameters, repeat parameters and pass ids as numbers. Everything
here accepts what they send and turns anything else into a Zoho error that says what to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.requests import Request

from .errors import (
    MSG_INVALID_DATA,
    ZohoError,
    invalid_param,
    invalid_path_id,
    limit_exceeded,
    mandatory_data,
)

MAX_ROWS: Final = 100
MAX_FIELDS: Final = 50
MAX_PER_PAGE: Final = 200
INT64_MAX: Final = 2**63 - 1


def first_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A parameter given twice uses its first value (§3.4)."""
    out: dict[str, str] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def query(request: Request) -> dict[str, str]:
    cached = request.scope.get("floodway.query")
    if cached is None:
        cached = first_values(request.query_params.multi_items())
        request.scope["floodway.query"] = cached
    return cached


def parse_bool(value: str | None, name: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    low = value.strip().lower()
    if low == "true":
        return True
    if low == "false":
        return False
    raise invalid_param(name)


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _invalid_json() -> ZohoError:
    return ZohoError("INVALID_DATA", "body is not valid JSON", 400)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def parse_json(raw: bytes, max_depth: int = 64) -> Any:
    """Parse a body as JSON whatever its ``Content-Type``; an empty body is ``None``."""
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8-sig")
        value = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise _invalid_json() from None
    except RecursionError:
        raise limit_exceeded(max_depth) from None
    if json_depth(value) > max_depth:
        raise ZohoError(
            "LIMIT_EXCEEDED",
            f"body is nested deeper than {max_depth} levels",
            400,
            {"limit": max_depth},
        )
    return value


async def json_body(request: Request, max_depth: int = 64) -> Any:
    return parse_json(await request.body(), max_depth)


def write_rows(body: Any, *, max_rows: int = MAX_ROWS) -> list[Any]:
    """The ``data`` array of a write body: 1 to 100 rows (§5.3)."""
    if not isinstance(body, dict):
        raise mandatory_data()
    rows = body.get("data")
    if not isinstance(rows, list) or not rows:
        raise mandatory_data()
    if len(rows) > max_rows:
        raise limit_exceeded(max_rows)
    return rows


def parse_trigger(body: Any) -> list[str] | None:
    """``trigger``: omitted -> None (workflow fires); a list of names otherwise."""
    if not isinstance(body, dict) or "trigger" not in body:
        return None
    value = body["trigger"]
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return None


def id_text(value: Any) -> str | None:
    """An id given as string or number, normalised to its decimal text; None when not an id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    if number <= 0 or number > INT64_MAX:
        return None
    return str(number)


def path_id(value: str, index: int) -> str:
    """A record id from a path segment, or ``INVALID_DATA`` with its ``resource_path_index``."""
    parsed = id_text(value)
    if parsed is None:
        raise invalid_path_id(index)
    return parsed


def ids_param(value: str | None, name: str = "ids", limit: int = MAX_ROWS) -> list[str] | None:
    """Comma-separated ids; ``None`` when absent. Non-numeric entries are kept as given so the
    caller can answer each with a per-row error."""
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if len(parts) > limit:
        raise limit_exceeded(limit)
    return parts


def fields_param(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        return None
    if len(names) > MAX_FIELDS:
        raise limit_exceeded(MAX_FIELDS)
    return names


def int_param(q: dict[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = q.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ZohoError("INVALID_DATA", MSG_INVALID_DATA, 400, {"param_name": name}) from None
    if value < minimum:
        raise ZohoError("INVALID_DATA", MSG_INVALID_DATA, 400, {"param_name": name})
    return value


def page_params(q: dict[str, str]) -> tuple[int, int]:
    page = int_param(q, "page", 1)
    per_page = min(int_param(q, "per_page", MAX_PER_PAGE), MAX_PER_PAGE)
    if page > 10_000_000:
        raise invalid_param("page")
    return page, per_page


async def token_params(request: Request) -> dict[str, str]:
    """OAuth parameters from the query string and a form, multipart or JSON body (compat §2.1).

    The ``Content-Type`` is not trusted: the body is sniffed. A body value wins over a query value.
    """
    params = dict(query(request))
    raw = await request.body()
    body_values: dict[str, str] = {}
    stripped = raw.strip()
    content_type = request.headers.get("content-type", "").lower()
    if stripped.startswith(b"{"):
        try:
            parsed = json.loads(stripped.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict):
            body_values = {
                str(k): (v if isinstance(v, str) else json.dumps(v))
                for k, v in parsed.items()
                if v is not None
            }
    elif stripped and ("multipart/form-data" in content_type or stripped.startswith(b"--")):
        if "multipart/form-data" in content_type:
            try:
                form = await request.form(max_files=0, max_fields=100)
                for key, value in form.multi_items():
                    if not isinstance(value, UploadFile):
                        body_values.setdefault(key, value)
            except Exception:  # malformed multipart: treat as no body values
                body_values = {}
    elif stripped:
        try:
            text = stripped.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        body_values = first_values(parse_qsl(text, keep_blank_values=True))
    params.update(body_values)
    return params
