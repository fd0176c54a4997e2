"""Record endpoints: list, get, create, update, delete, upsert, search, related records, Notes.

zoho-rest-compat.md §5. Each handler parses leniently, authorises (scope + profile right), makes
one call into ``crm.records`` and renders Zoho's envelope and status. Per-row errors come back
from the CRM layer as rows; rows the HTTP layer can already reject (not a JSON object) are
answered here and merged back in input order.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .auth import authenticate, require
from .common import call, check_version, crm, resolve_module, trim_info, write_status
from .errors import (
    MSG_INVALID_DATA,
    ZohoError,
    invalid_url,
    json_response,
    no_content,
    param_missing,
    row_error,
)
from .parsing import (
    fields_param,
    ids_param,
    json_body,
    page_params,
    parse_bool,
    parse_trigger,
    path_id,
    query,
    write_rows,
)

router = APIRouter()

NOTES: Final = "Notes"
STRICT_PAGE_LIMIT: Final = 2000


# ---- helpers ------------------------------------------------------------------------------


async def _module(request: Request, name: str) -> Any:
    """Authenticate first (an unauthenticated caller learns nothing), then resolve the module."""
    await authenticate(request)
    return await resolve_module(request, name)


def _config(request: Request) -> Any:
    return request.app.state.config


def _workflow(trigger: list[str] | None) -> bool:
    return True if trigger is None else "workflow" in trigger


def _sort(q: dict[str, str]) -> tuple[str | None, str | None]:
    sort_by = q.get("sort_by") or None
    sort_order = q.get("sort_order") or None
    if sort_order is not None:
        sort_order = sort_order.strip().lower()
        if sort_order not in ("asc", "desc"):
            raise ZohoError("INVALID_DATA", MSG_INVALID_DATA, 400, {"param_name": "sort_order"})
    return sort_by, sort_order


def _converted(q: dict[str, str]) -> str | None:
    value = q.get("converted")
    if value is None or value == "":
        return None
    low = value.strip().lower()
    if low not in ("true", "false", "both"):
        raise ZohoError("INVALID_DATA", MSG_INVALID_DATA, 400, {"param_name": "converted"})
    return low


def _http_time(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ZohoError("INVALID_DATA", MSG_INVALID_DATA, 400, {"header_name": name}) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _paging(request: Request, q: dict[str, str], legacy: bool) -> dict[str, Any]:
    """page / per_page / page_token (v3+) with the compat §7 rules."""
    page, per_page = page_params(q)
    token = None if legacy else (q.get("page_token") or None)
    if token is not None and "page" in q:
        raise ZohoError(
            "AMBIGUITY_DURING_PROCESSING",
            "page and page_token cannot be used together",
            400,
            {"param_names": ["page", "page_token"]},
        )
    if _config(request).strict_pagination and token is None and page * per_page > STRICT_PAGE_LIMIT:
        raise ZohoError(
            "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
            "pagination limit exceeded",
            400,
            {"limit": STRICT_PAGE_LIMIT},
        )
    # The CRM layer tells "no page given" (None) from page 1 for its page_token checks.
    return {"page": page if "page" in q else None, "per_page": per_page, "page_token": token}


def _page_response(page: Any, legacy: bool, *, search: bool = False) -> Response:
    if page is None or not page.data:
        return no_content()
    return json_response({"data": page.data, "info": trim_info(dict(page.info), legacy or search)})


def _fields(request: Request, q: dict[str, str], legacy: bool, listing: bool) -> list[str] | None:
    fields = fields_param(q.get("fields"))
    if fields is None and listing and not legacy and _config(request).strict_fields_param:
        raise param_missing("fields")
    return fields


async def _write_body(request: Request) -> tuple[Any, list[Any]]:
    body = await json_body(request, _config(request).max_json_depth)
    return body, write_rows(body)


async def _per_row(
    rows: list[Any], fn: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Call ``fn`` with the rows that are JSON objects; answer the others with INVALID_DATA."""
    good = [r for r in rows if isinstance(r, dict)]
    done = await call(fn, good) if good else []
    if len(good) == len(rows):
        return done
    out: list[dict[str, Any]] = []
    it = iter(done)
    for i, row in enumerate(rows):
        if isinstance(row, dict):
            out.append(next(it))
        else:
            out.append(
                row_error(
                    "INVALID_DATA",
                    MSG_INVALID_DATA,
                    {"expected_data_type": "jsonobject", "json_path": f"$.data[{i}]"},
                )
            )
    return out


def _rows_response(rows: list[dict[str, Any]], *, created: bool = False) -> Response:
    return json_response({"data": rows}, write_status(rows, created=created))


def _note_parent(row: dict[str, Any]) -> dict[str, Any]:
    """v8 form ``Parent_Id: {"module": {"api_name": M}, "id": …}`` -> ``Parent_Id`` + ``se_module``."""
    parent = row.get("Parent_Id")
    if isinstance(parent, dict) and isinstance(parent.get("module"), dict):
        module = parent["module"].get("api_name")
        if isinstance(module, str) and "se_module" not in row and "$se_module" not in row:
            row = {**row, "se_module": module}
    return row


# ---- list, get -----------------------------------------------------------------------------


@router.get("/crm/{version}/{module_name}")
async def list_records(request: Request, version: str, module_name: str) -> Response:
    legacy = check_version(version)
    module = await _module(request, module_name)
    principal = await require(request, "read", module.api_name)
    q = query(request)
    paging = _paging(request, q, legacy)
    sort_by, sort_order = _sort(q)
    page = await call(
        crm(request).records.list,
        module.api_name,
        fields=_fields(request, q, legacy, listing=True),
        sort_by=sort_by,
        sort_order=sort_order,
        ids=ids_param(q.get("ids")),
        converted=_converted(q),
        modified_since=_http_time(request.headers.get("if-modified-since"), "If-Modified-Since"),
        actor=principal.actor(),
        **paging,
    )
    return _page_response(page, legacy)


@router.get("/crm/{version}/{module_name}/search")
async def search_records(request: Request, version: str, module_name: str) -> Response:
    legacy = check_version(version)
    module = await _module(request, module_name)
    await require(request, "search", module.api_name)
    q = query(request)
    page, per_page = page_params(q)
    sort_by, sort_order = _sort(q)
    result = await call(
        crm(request).records.search,
        module.api_name,
        criteria=q.get("criteria"),
        email=q.get("email"),
        phone=q.get("phone"),
        word=q.get("word"),
        page=page,
        per_page=per_page,
        fields=_fields(request, q, legacy, listing=False),
        sort_by=sort_by,
        sort_order=sort_order,
        converted=_converted(q),
    )
    return _page_response(result, legacy, search=True)


@router.get("/crm/{version}/{module_name}/deleted")
async def deleted_records(request: Request, version: str, module_name: str) -> Response:
    raise invalid_url()  # compat §5.5: not implemented in the first release


@router.get("/crm/{version}/{module_name}/{record_id}")
async def get_record(request: Request, version: str, module_name: str, record_id: str) -> Response:
    legacy = check_version(version)
    module = await _module(request, module_name)
    await require(request, "read", module.api_name)
    rid = path_id(record_id, 1)
    q = query(request)
    record = await call(
        crm(request).records.get,
        module.api_name,
        rid,
        fields=_fields(request, q, legacy, listing=False),
    )
    if record is None:
        return no_content()
    return json_response({"data": [record]})


# ---- create, update, upsert, delete --------------------------------------------------------


@router.post("/crm/{version}/{module_name}")
async def create_records(request: Request, version: str, module_name: str) -> Response:
    check_version(version)
    module = await _module(request, module_name)
    principal = await require(request, "create", module.api_name)
    body, rows = await _write_body(request)
    actor = principal.actor(workflow=_workflow(parse_trigger(body)))
    if module.api_name == NOTES:
        rows = [_note_parent(r) if isinstance(r, dict) else r for r in rows]
    result = await _per_row(
        rows, lambda good: crm(request).records.create(module.api_name, good, actor=actor)
    )
    return _rows_response(result, created=True)


@router.post("/crm/{version}/{module_name}/upsert")
async def upsert_records(request: Request, version: str, module_name: str) -> Response:
    check_version(version)
    module = await _module(request, module_name)
    principal = await require(request, "create", module.api_name)
    await require(request, "update", module.api_name)
    body, rows = await _write_body(request)
    actor = principal.actor(workflow=_workflow(parse_trigger(body)))
    check = body.get("duplicate_check_fields") if isinstance(body, dict) else None
    if isinstance(check, str):
        check = [p.strip() for p in check.split(",") if p.strip()]
    elif isinstance(check, list):
        check = [str(p) for p in check if isinstance(p, str | int)] or None
    else:
        check = None
    result = await _per_row(
        rows,
        lambda good: crm(request).records.upsert(
            module.api_name, good, actor=actor, duplicate_check_fields=check
        ),
    )
    status = write_status(result, created=True)
    if status == 201 and not any(r.get("action") == "insert" for r in result):
        status = 200
    return json_response({"data": result}, status)


@router.put("/crm/{version}/{module_name}")
async def update_records(request: Request, version: str, module_name: str) -> Response:
    check_version(version)
    module = await _module(request, module_name)
    principal = await require(request, "update", module.api_name)
    body, rows = await _write_body(request)
    actor = principal.actor(workflow=_workflow(parse_trigger(body)))
    result = await _per_row(
        rows, lambda good: crm(request).records.update(module.api_name, good, actor=actor)
    )
    return _rows_response(result)


@router.put("/crm/{version}/{module_name}/{record_id}")
async def update_record(
    request: Request, version: str, module_name: str, record_id: str
) -> Response:
    check_version(version)
    module = await _module(request, module_name)
    principal = await require(request, "update", module.api_name)
    rid = path_id(record_id, 1)
    body, rows = await _write_body(request)
    actor = principal.actor(workflow=_workflow(parse_trigger(body)))
    result = await _per_row(
        rows[:1],
        lambda good: crm(request).records.update(module.api_name, good, actor=actor, record_id=rid),
    )
    return _rows_response(result)


@router.delete("/crm/{version}/{module_name}")
async def delete_records(request: Request, version: str, module_name: str) -> Response:
    check_version(version)
    module = await _module(request, module_name)
    principal = await require(request, "delete", module.api_name)
    q = query(request)
    ids = ids_param(q.get("ids"))
    if not ids:
        raise param_missing("ids")
    actor = principal.actor(workflow=parse_bool(q.get("wf_trigger"), "wf_trigger", True))
    result = await call(crm(request).records.delete, module.api_name, ids, actor=actor)
    return _rows_response(result)


@router.delete("/crm/{version}/{module_name}/{record_id}")
async def delete_record(
    request: Request, version: str, module_name: str, record_id: str
) -> Response:
    check_version(version)
    module = await _module(request, module_name)
    principal = await require(request, "delete", module.api_name)
    rid = path_id(record_id, 1)
    q = query(request)
    actor = principal.actor(workflow=parse_bool(q.get("wf_trigger"), "wf_trigger", True))
    result = await call(crm(request).records.delete, module.api_name, [rid], actor=actor)
    return _rows_response(result)


# ---- related records -----------------------------------------------------------------------


async def _related_target(
    request: Request, version: str, module_name: str, record_id: str, related: str
) -> tuple[bool, Any, str, Any]:
    legacy = check_version(version)
    module = await _module(request, module_name)
    rel = await call(crm(request).metadata.related_list, module.api_name, related)
    return legacy, module, path_id(record_id, 1), rel


def _rel_name(rel: Any, fallback: str) -> str:
    return str(getattr(rel, "api_name", fallback))


def _rel_module(rel: Any) -> str | None:
    target = getattr(rel, "module", None)
    if target is None:
        return None
    return str(getattr(target, "api_name", target))


@router.get("/crm/{version}/{module_name}/{record_id}/{related}")
async def get_related(
    request: Request, version: str, module_name: str, record_id: str, related: str
) -> Response:
    legacy, module, rid, rel = await _related_target(
        request, version, module_name, record_id, related
    )
    principal = await require(request, "read", module.api_name)
    child = _rel_module(rel)
    if child is not None and child != module.api_name:
        await require(request, "read", child)
    q = query(request)
    paging = _paging(request, q, legacy)
    sort_by, sort_order = _sort(q)
    page = await call(
        crm(request).records.related,
        module.api_name,
        rid,
        _rel_name(rel, related),
        fields=_fields(request, q, legacy, listing=False),
        sort_by=sort_by,
        sort_order=sort_order,
        ids=ids_param(q.get("ids")),
        actor=principal.actor(),
        **paging,
    )
    return _page_response(page, legacy)


def _is_notes(rel: Any, related: str) -> bool:
    return _rel_name(rel, related).lower() == "notes"


@router.post("/crm/{version}/{module_name}/{record_id}/{related}")
async def post_related(
    request: Request, version: str, module_name: str, record_id: str, related: str
) -> Response:
    _, module, rid, rel = await _related_target(request, version, module_name, record_id, related)
    if not _is_notes(rel, related):
        raise ZohoError("NOT_SUPPORTED", "not supported", 400, {"resource_path_index": 2})
    principal = await require(request, "create", NOTES)
    body, rows = await _write_body(request)
    actor = principal.actor(workflow=_workflow(parse_trigger(body)))
    rows = [
        {**r, "Parent_Id": rid, "se_module": module.api_name} if isinstance(r, dict) else r
        for r in rows
    ]
    result = await _per_row(
        rows, lambda good: crm(request).records.create(NOTES, good, actor=actor)
    )
    return _rows_response(result, created=True)


@router.put("/crm/{version}/{module_name}/{record_id}/{related}")
async def put_related(
    request: Request, version: str, module_name: str, record_id: str, related: str
) -> Response:
    _, module, rid, rel = await _related_target(request, version, module_name, record_id, related)
    body, rows = await _write_body(request)
    if _is_notes(rel, related):
        principal = await require(request, "update", NOTES)
        actor = principal.actor(workflow=_workflow(parse_trigger(body)))
        result = await _per_row(
            rows, lambda good: crm(request).records.update(NOTES, good, actor=actor)
        )
        return _rows_response(result)
    principal = await require(request, "update", module.api_name)
    actor = principal.actor(workflow=_workflow(parse_trigger(body)))
    result = await _per_row(
        rows,
        lambda good: crm(request).records.link(
            module.api_name, rid, _rel_name(rel, related), good, actor=actor
        ),
    )
    return _rows_response(result)


@router.delete("/crm/{version}/{module_name}/{record_id}/{related}")
async def delete_related(
    request: Request, version: str, module_name: str, record_id: str, related: str
) -> Response:
    _, module, rid, rel = await _related_target(request, version, module_name, record_id, related)
    q = query(request)
    ids = ids_param(q.get("ids"))
    if not ids:
        raise param_missing("ids")
    if _is_notes(rel, related):
        principal = await require(request, "delete", NOTES)
        result = await call(crm(request).records.delete, NOTES, ids, actor=principal.actor())
        return _rows_response(result)
    principal = await require(request, "update", module.api_name)
    result = await call(
        crm(request).records.unlink,
        module.api_name,
        rid,
        _rel_name(rel, related),
        ids,
        actor=principal.actor(),
    )
    return _rows_response(result)


@router.put("/crm/{version}/{module_name}/{record_id}/{related}/{related_id}")
async def put_related_one(
    request: Request,
    version: str,
    module_name: str,
    record_id: str,
    related: str,
    related_id: str,
) -> Response:
    _, module, rid, rel = await _related_target(request, version, module_name, record_id, related)
    child_id = path_id(related_id, 3)
    body = await json_body(request, _config(request).max_json_depth)
    if _is_notes(rel, related):
        principal = await require(request, "update", NOTES)
        rows = write_rows(body)[:1]
        actor = principal.actor(workflow=_workflow(parse_trigger(body)))
        result = await _per_row(
            rows,
            lambda good: crm(request).records.update(NOTES, good, actor=actor, record_id=child_id),
        )
        return _rows_response(result)
    principal = await require(request, "update", module.api_name)
    extra: dict[str, Any] = {}
    if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
        first = body["data"][0]
        if isinstance(first, dict):
            extra = {k: v for k, v in first.items() if k != "id"}
    actor = principal.actor(workflow=_workflow(parse_trigger(body)))
    result = await call(
        crm(request).records.link,
        module.api_name,
        rid,
        _rel_name(rel, related),
        [{**extra, "id": child_id}],
        actor=actor,
    )
    return _rows_response(result)


@router.delete("/crm/{version}/{module_name}/{record_id}/{related}/{related_id}")
async def delete_related_one(
    request: Request,
    version: str,
    module_name: str,
    record_id: str,
    related: str,
    related_id: str,
) -> Response:
    _, module, rid, rel = await _related_target(request, version, module_name, record_id, related)
    child_id = path_id(related_id, 3)
    if _is_notes(rel, related):
        principal = await require(request, "delete", NOTES)
        result = await call(crm(request).records.delete, NOTES, [child_id], actor=principal.actor())
        return _rows_response(result)
    principal = await require(request, "update", module.api_name)
    result = await call(
        crm(request).records.unlink,
        module.api_name,
        rid,
        _rel_name(rel, related),
        [child_id],
        actor=principal.actor(),
    )
    return _rows_response(result)
