"""Executions admin API: the log of function runs (functions-platform.md §8).

``GET /api/executions`` lists executions newest first, filtered by function, status, trigger type
and a time range, a page at a time (``limit`` and the ``before_id`` cursor the previous page's
``info.next_before_id`` gives); ``GET /api/executions/{id}`` is one full record;
``POST /api/executions/{id}/rerun`` runs the same function version with the same arguments as a
new execution with ``rerun_of`` set (§8.4 "Run again"). Execution details (arguments, ``info``,
outbound summary, errors) need ``manage_functions`` (security.md AZ-5).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from .errors import ZohoError, json_response
from .functions import ZohoErrorOut, admin, fcall, service
from .parsing import id_text, query

router = APIRouter()

STATUSES: Final = ("running", "success", "failure", "skipped")
TRIGGERS: Final = (
    "manual",
    "rest",
    "workflow",
    "button",
    "related_list",
    "validation",
    "schedule",
    "cli",
)
DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 200


class HttpCallOut(BaseModel):
    method: str
    url: str = Field(description="secrets masked")
    status: int | None
    duration_ms: float | None
    error: str | None = None


class ExecutionOut(BaseModel):
    id: str
    function: str
    function_id: str | None = None
    version: int | None
    trigger: dict[str, Any] = Field(description='{"type": "rest", "auth_type": "oauth", …}')
    trigger_type: str
    status: Literal["running", "success", "failure", "skipped"]
    caller: Literal["user", "system"] | None = None
    run_as: str | None = None
    arguments: dict[str, Any] = Field(description="bound argument values, secrets masked")
    output: Any = None
    output_text: str | None = None
    output_truncated: bool = False
    info: list[str]
    error: dict[str, Any] | None = Field(description='{"kind","message","line","column"}')
    statements: int | None = None
    http_calls: list[HttpCallOut] = []
    emails: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    notes: list[Any] = []
    client_actions: list[dict[str, Any]] = []
    started_at: str | None = None
    finished_at: str | None = None
    duration_ms: float | None = None
    rerun_of: str | None = None
    chain_id: str | None = None
    chain_depth: int | None = None


class ExecutionPageInfo(BaseModel):
    count: int
    more_records: bool
    next_before_id: str | None = Field(description="pass as before_id for the next page")


class ExecutionList(BaseModel):
    executions: list[ExecutionOut]
    info: ExecutionPageInfo


class ExecutionEnvelope(BaseModel):
    execution: ExecutionOut


_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": ZohoErrorOut, "description": "a bad filter or id"},
    401: {"model": ZohoErrorOut, "description": "no, bad or under-scoped token"},
    403: {"model": ZohoErrorOut, "description": "the user lacks manage_functions"},
    404: {"model": ZohoErrorOut, "description": "unknown execution"},
}
_TAGS: Final[list[str | Any]] = ["executions"]


@router.get(
    "/api/executions",
    response_model=ExecutionList,
    responses=_ERRORS,
    tags=_TAGS,
    summary="Executions, newest first, filtered and paged",
    description=(
        "Query parameters: `function` (api name), `status` (running, success, failure, "
        "skipped), `trigger` (manual, rest, workflow, button, related_list, validation, "
        "schedule, cli), `since`/`until` (ISO-8601 with offset or Z, or epoch milliseconds; "
        "`since` inclusive, `until` exclusive), `limit` (1-200, default 20), `before_id` "
        "(the previous page's `info.next_before_id`)."
    ),
)
async def list_executions(request: Request) -> Response:
    await admin(request, write=False)
    q = query(request)
    status = _choice(q, "status", STATUSES)
    trigger = _choice(q, "trigger", TRIGGERS)
    since = _time(q, "since")
    until = _time(q, "until")
    limit = _limit(q)
    before_id = q.get("before_id") or None
    if before_id is not None:
        before_id = id_text(before_id)
        if before_id is None:
            raise _bad_param("before_id")
    function = q.get("function") or None
    rows = await fcall(
        service(request).executions.list,
        function=function,
        status=status,
        trigger=trigger,
        since=since,
        until=until,
        limit=limit + 1,
        before_id=before_id,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return json_response(
        {
            "executions": rows,
            "info": {
                "count": len(rows),
                "more_records": more,
                "next_before_id": rows[-1]["id"] if more and rows else None,
            },
        }
    )


@router.get(
    "/api/executions/{execution_id}",
    response_model=ExecutionEnvelope,
    responses=_ERRORS,
    tags=_TAGS,
    summary="One execution: arguments, output, info log, error, outbound calls",
)
async def get_execution(request: Request, execution_id: str) -> Response:
    await admin(request, write=False)
    record = await fcall(service(request).executions.get, _execution_id(execution_id))
    return json_response({"execution": record})


@router.post(
    "/api/executions/{execution_id}/rerun",
    response_model=ExecutionEnvelope,
    status_code=201,
    responses=_ERRORS,
    tags=_TAGS,
    summary="Run again: same function version, same arguments, a new execution with rerun_of",
)
async def rerun_execution(request: Request, execution_id: str) -> Response:
    principal = await admin(request)
    fx = service(request)
    result = await fcall(
        fx.executor.rerun, _execution_id(execution_id), user_id=str(principal.user.id)
    )
    record = await fcall(fx.executions.get, result.id) if result.id else result.to_json()
    return json_response({"execution": record}, 201)


# ---- parameters ---------------------------------------------------------------------------------


def _bad_param(name: str) -> ZohoError:
    return ZohoError("INVALID_DATA", "invalid data", 400, {"param_name": name})


def _execution_id(text: str) -> str:
    value = id_text(text)
    if value is None:
        raise ZohoError(
            "INVALID_DATA", "the id given seems to be invalid", 400, {"resource_path_index": 2}
        )
    return value


def _choice(q: dict[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = (q.get(name) or "").strip().lower()
    if not value:
        return None
    if value not in allowed:
        raise _bad_param(name)
    return value


def _time(q: dict[str, str], name: str) -> dt.datetime | None:
    text = (q.get(name) or "").strip()
    if not text:
        return None
    if text.isascii() and text.lstrip("-").isdigit() and len(text) <= 16:
        try:
            return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC)
        except (ValueError, OverflowError, OSError):
            raise _bad_param(name) from None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _bad_param(name) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _limit(q: dict[str, str]) -> int:
    text = (q.get("limit") or "").strip()
    if not text:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise _bad_param("limit")
    return int(text)
