"""The functions admin JSON API (``/api/functions``): registry, versions, publish, test runs.

Issue 4 item 1 and functions-platform.md §1: list, get, create, save a version (a draft),
publish, roll back, delete, change settings, switch REST exposure, run with test arguments.
Every route needs an OAuth token (``Zoho-oauthtoken`` or ``Bearer``, as the records API) whose
user holds the ``manage_functions`` permission (security.md AZ-1, AZ-4) and whose token carries a
settings or functions scope (AUTH-3); each route declares it (AZ-2). Bodies and responses are
pydantic models, so the routes appear with their shapes in the OpenAPI schema
(``app.openapi()``); the handlers validate bodies themselves to answer with Zoho-shaped errors
naming the offending key.

``service(request)`` gives the process's ``floodway.functions.service.Functions``: the one passed
to ``create_app(functions=…)``, else one created on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .auth import authenticate
from .errors import ZohoError, json_response, no_permission, scope_mismatch
from .parsing import json_body

router = APIRouter()

T = TypeVar("T")

# Errors of the service layers that carry a code, a message, details and an HTTP status.
SERVICE_ERRORS: Final = ("FunctionsError", "AutomationError")

PERMISSION: Final = "manage_functions"
# AUTH-3: the scopes that reach the functions admin API (self clients hold settings.ALL).
WRITE_SCOPES: Final = frozenset({"zohocrm.settings.all", "zohocrm.functions.all"})
READ_SCOPES: Final = WRITE_SCOPES | {"zohocrm.settings.read"}
APIKEY_WARNING: Final = (
    "calls with the org API key (auth_type=apikey) run as the primary admin; "
    "set rest_auth to 'oauth' to accept OAuth tokens only"
)

_service_lock = threading.Lock()


# ---- plumbing shared with executions.py and rest_functions.py ---------------------------------


def service(request: Request) -> Any:
    """The ``Functions`` service of this app (created on first use when none was given)."""
    state = request.app.state
    fx = getattr(state, "functions", None)
    if fx is not None:
        return fx
    with _service_lock:
        fx = getattr(state, "functions", None)
        if fx is None:
            from ..functions.service import Functions
            from .in_process import InProcessCrmApi

            fx = Functions(state.crm, getattr(state, "settings", None))
            fx.in_process_api = InProcessCrmApi(request.app, state.crm)
            state.functions = fx
    return fx


def as_zoho(exc: Exception) -> Exception:
    """A service error (``FunctionsError``, ``AutomationError``) as the Zoho envelope with the
    service's suggested status."""
    code = getattr(exc, "code", None)
    to_json = getattr(exc, "to_json", None)
    if code is None or to_json is None or exc.__class__.__name__ not in SERVICE_ERRORS:
        return exc
    return ZohoError(
        code,
        str(getattr(exc, "message", code)),
        int(getattr(exc, "http_status", 400)),
        dict(getattr(exc, "details", {}) or {}),
    )


async def fcall(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a (blocking, database) service call off the event loop; its errors as Zoho's."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except Exception as exc:
        converted = as_zoho(exc)
        if converted is exc:
            raise
        raise converted from None


async def admin(request: Request, *, write: bool = True) -> Any:
    """Authenticate; the token needs a functions/settings scope and its user
    ``manage_functions``."""
    principal = await authenticate(request)
    if not (set(principal.scopes) & (WRITE_SCOPES if write else READ_SCOPES)):
        raise scope_mismatch()
    if not principal.profile.has(PERMISSION):
        raise no_permission({"permission": PERMISSION})
    return principal


def parse_model(model: type[BaseModel], value: Any) -> Any:
    """Validate a body against ``model``; the first problem as a Zoho error naming its key."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ZohoError("INVALID_DATA", "the body must be a JSON object", 400, {})
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or "body"
        if first.get("type") == "missing":
            raise ZohoError(
                "MANDATORY_NOT_FOUND", "required field not found", 400, {"api_name": loc}
            ) from None
        if first.get("type") == "extra_forbidden":
            raise ZohoError(
                "INVALID_DATA", f"unknown key '{loc}'", 400, {"api_name": loc}
            ) from None
        raise ZohoError("INVALID_DATA", str(first.get("msg")), 400, {"api_name": loc}) from None


async def read_model(request: Request, model: type[BaseModel]) -> Any:
    body = await json_body(request, request.app.state.config.max_json_depth)
    return parse_model(model, body)


def body_doc(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body (the handler validates it itself)."""
    schema = model.model_json_schema()
    assert "$defs" not in schema, "request models stay flat so their schema can be inlined"
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": schema}},
        }
    }


# ---- models (the OpenAPI schema) ----------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ZohoErrorOut(BaseModel):
    """Every error: Zoho's request-level shape."""

    code: str = Field(examples=["NOT_FOUND"])
    details: dict[str, Any]
    message: str
    status: Literal["error"]


class ArgumentOut(BaseModel):
    name: str
    type: str | None = Field(description="declared type (lower case); null for a bare script")


class FunctionOut(BaseModel):
    id: str
    api_name: str
    display_name: str
    description: str
    category: Literal[
        "standalone", "automation", "button", "related_list", "schedule", "validation"
    ]
    return_type: str | None = Field(description="header type in lower case; null: bare script")
    arguments: list[ArgumentOut]
    rest_enabled: bool
    rest_auth: Literal["any", "oauth"]
    timeout_s: float | None
    settings: dict[str, Any]
    live_version: int | None
    latest_version: int
    created_time: str | None
    modified_time: str | None
    created_by: str | None
    modified_by: str | None


class VersionOut(BaseModel):
    function_id: str
    api_name: str
    number: int
    sha256: str
    author: str | None
    created_time: str | None
    published_time: str | None = None
    status: Literal["draft", "published"]
    live: bool
    category: str
    return_type: str | None
    arguments: list[ArgumentOut]
    source: str | None = Field(default=None, description="only on single-version reads")


class FunctionList(BaseModel):
    functions: list[FunctionOut]


class FunctionDetail(BaseModel):
    function: FunctionOut
    versions: list[VersionOut] = Field(description="newest first, without source")
    live: VersionOut | None = Field(description="the live version with its source")


class FunctionEnvelope(BaseModel):
    function: FunctionOut
    warning: str | None = None


class VersionEnvelope(BaseModel):
    version: VersionOut


class VersionList(BaseModel):
    versions: list[VersionOut]


class SaveResultOut(BaseModel):
    function: FunctionOut
    version: VersionOut
    function_created: bool
    version_created: bool = Field(description="false: the source equals the latest version's")
    published: bool = Field(description="this call changed the live version")


class DeletedOut(BaseModel):
    api_name: str
    deleted: bool


class ExecutionResultOut(BaseModel):
    id: str | None
    function: str
    version: int
    status: Literal["success", "failure"]
    output: Any = Field(description="return value as JSON")
    output_text: str | None = Field(description="its Deluge text form")
    output_type: str
    info: list[str]
    error: dict[str, Any] | None = Field(description='{"kind","message","line","column"}')
    statements: int
    duration_ms: float
    started_at: str
    client_actions: list[dict[str, Any]]


class CreateFunction(_Strict):
    """A new function and its version 1 (a draft unless ``publish``)."""

    source: str = Field(description="Deluge source with its header")
    api_name: str | None = Field(default=None, description="defaults to the header's name")
    display_name: str | None = None
    description: str | None = None
    rest_enabled: bool = False
    rest_auth: Literal["any", "oauth"] = "any"
    timeout_s: float | None = None
    settings: dict[str, Any] | None = None
    publish: bool = False


class SaveVersion(_Strict):
    """A new draft version (none when the source equals the latest)."""

    source: str
    publish: bool = Field(default=False, description="also make the resulting version live")


class UpdateFunction(_Strict):
    display_name: str | None = None
    description: str | None = None
    rest_enabled: bool | None = None
    rest_auth: Literal["any", "oauth"] | None = None
    timeout_s: float | None = None
    settings: dict[str, Any] | None = None


class PublishRequest(_Strict):
    version: int | None = Field(default=None, description="default: the latest version")


class RollbackRequest(_Strict):
    version: int | None = Field(
        default=None,
        description="the version to make live again; default: the newest earlier published one",
    )


class ExecuteRequest(_Strict):
    arguments: dict[str, Any] = Field(default_factory=dict, description="named test arguments")
    version: int | None = Field(default=None, description="a version to run (drafts too)")


class RestSettings(_Strict):
    enabled: bool
    rest_auth: Literal["any", "oauth"] | None = Field(
        default=None, description="'oauth' refuses API-key calls (security.md AZ-4)"
    )


_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": ZohoErrorOut, "description": "invalid data or a syntax error"},
    401: {"model": ZohoErrorOut, "description": "no, bad or under-scoped token"},
    403: {"model": ZohoErrorOut, "description": "the user lacks manage_functions"},
    404: {"model": ZohoErrorOut, "description": "unknown function or version"},
}
_TAGS: Final[list[str | Any]] = ["functions"]


# ---- routes -------------------------------------------------------------------------------------


def _fx(request: Request) -> Any:
    return service(request)


@router.get(
    "/api/functions",
    response_model=FunctionList,
    responses=_ERRORS,
    tags=_TAGS,
    summary="List functions",
)
async def list_functions(request: Request, category: str | None = None) -> Response:
    await admin(request, write=False)
    fns = await fcall(_fx(request).registry.list, category or None)
    return json_response({"functions": [f.to_json() for f in fns]})


@router.post(
    "/api/functions",
    response_model=SaveResultOut,
    status_code=201,
    responses=_ERRORS | {409: {"model": ZohoErrorOut, "description": "api name exists"}},
    tags=_TAGS,
    summary="Create a function (version 1)",
    openapi_extra=body_doc(CreateFunction),
)
async def create_function(request: Request) -> Response:
    principal = await admin(request)
    body = await read_model(request, CreateFunction)
    result = await fcall(
        _fx(request).registry.create,
        body.source,
        api_name=body.api_name,
        display_name=body.display_name,
        description=body.description,
        rest_enabled=body.rest_enabled,
        rest_auth=body.rest_auth,
        timeout_s=body.timeout_s,
        settings=body.settings,
        author=str(principal.user.id),
        publish=body.publish,
    )
    return json_response(result.to_json(), 201)


@router.get(
    "/api/functions/{api_name}",
    response_model=FunctionDetail,
    responses=_ERRORS,
    tags=_TAGS,
    summary="A function, its versions and the live source",
)
async def get_function(request: Request, api_name: str) -> Response:
    await admin(request, write=False)
    fx = _fx(request)
    info = await fcall(fx.registry.get, api_name)
    versions = await fcall(fx.registry.versions, info.api_name)
    live = None
    if info.live_version is not None:
        live = (await fcall(fx.registry.version, info.api_name, info.live_version)).to_json(
            source=True
        )
    return json_response(
        {
            "function": info.to_json(),
            "versions": [v.to_json() for v in versions],
            "live": live,
        }
    )


@router.patch(
    "/api/functions/{api_name}",
    response_model=FunctionEnvelope,
    responses=_ERRORS,
    tags=_TAGS,
    summary="Change display name, description, REST exposure, timeout or settings",
    openapi_extra=body_doc(UpdateFunction),
)
async def update_function(request: Request, api_name: str) -> Response:
    await admin(request)
    body = await read_model(request, UpdateFunction)
    fields = body.model_dump(exclude_unset=True)
    info = await fcall(_fx(request).registry.update, api_name, **fields)
    return _function_response(info)


@router.delete(
    "/api/functions/{api_name}",
    response_model=DeletedOut,
    responses=_ERRORS,
    tags=_TAGS,
    summary="Delete a function and its versions (executions stay)",
)
async def delete_function(request: Request, api_name: str) -> Response:
    await admin(request)
    fx = _fx(request)
    info = await fcall(fx.registry.get, api_name)
    await fcall(fx.registry.delete, info.api_name)
    return json_response({"api_name": info.api_name, "deleted": True})


@router.get(
    "/api/functions/{api_name}/versions",
    response_model=VersionList,
    responses=_ERRORS,
    tags=_TAGS,
    summary="Versions, newest first (without source)",
)
async def list_versions(request: Request, api_name: str) -> Response:
    await admin(request, write=False)
    versions = await fcall(_fx(request).registry.versions, api_name)
    return json_response({"versions": [v.to_json() for v in versions]})


@router.post(
    "/api/functions/{api_name}/versions",
    response_model=SaveResultOut,
    status_code=201,
    responses=_ERRORS,
    tags=_TAGS,
    summary="Save a new version (a draft; 200 when the source is unchanged)",
    openapi_extra=body_doc(SaveVersion),
)
async def save_version(request: Request, api_name: str) -> Response:
    principal = await admin(request)
    body = await read_model(request, SaveVersion)
    result = await fcall(
        _fx(request).registry.save,
        api_name,
        body.source,
        author=str(principal.user.id),
        publish=body.publish,
    )
    return json_response(result.to_json(), 201 if result.version_created else 200)


@router.get(
    "/api/functions/{api_name}/versions/{number}",
    response_model=VersionEnvelope,
    responses=_ERRORS,
    tags=_TAGS,
    summary="One version with its source",
)
async def get_version(request: Request, api_name: str, number: str) -> Response:
    await admin(request, write=False)
    version = await fcall(_fx(request).registry.version, api_name, _number(number))
    return json_response({"version": version.to_json(source=True)})


@router.post(
    "/api/functions/{api_name}/publish",
    response_model=FunctionEnvelope,
    responses=_ERRORS,
    tags=_TAGS,
    summary="Make a version live (default: the latest)",
    openapi_extra=body_doc(PublishRequest, required=False),
)
async def publish_function(request: Request, api_name: str) -> Response:
    principal = await admin(request)
    body = await read_model(request, PublishRequest)
    info = await fcall(
        _fx(request).registry.publish, api_name, body.version, author=str(principal.user.id)
    )
    return _function_response(info)


@router.post(
    "/api/functions/{api_name}/rollback",
    response_model=FunctionEnvelope,
    responses=_ERRORS | {409: {"model": ZohoErrorOut, "description": "nothing to roll back to"}},
    tags=_TAGS,
    summary="Make an earlier version live again",
    openapi_extra=body_doc(RollbackRequest, required=False),
)
async def rollback_function(request: Request, api_name: str) -> Response:
    principal = await admin(request)
    body = await read_model(request, RollbackRequest)
    fx = _fx(request)
    number = body.version
    if number is None:
        info = await fcall(fx.registry.get, api_name)
        versions = await fcall(fx.registry.versions, info.api_name)
        live = info.live_version
        earlier = [
            v.number
            for v in versions
            if v.status == "published" and not v.live and (live is None or v.number < live)
        ]
        if not earlier:
            raise ZohoError(
                "NO_EARLIER_VERSION",
                f"Function '{info.api_name}' has no earlier published version",
                409,
                {"api_name": info.api_name},
            )
        number = earlier[0]
    info = await fcall(fx.registry.publish, api_name, number, author=str(principal.user.id))
    return _function_response(info)


@router.put(
    "/api/functions/{api_name}/rest",
    response_model=FunctionEnvelope,
    responses=_ERRORS,
    tags=_TAGS,
    summary="Switch REST exposure (GET|POST /crm/{v}/functions/{api_name}/actions/execute)",
    openapi_extra=body_doc(RestSettings),
)
async def set_rest(request: Request, api_name: str) -> Response:
    await admin(request)
    body = await read_model(request, RestSettings)
    fields: dict[str, Any] = {"rest_enabled": body.enabled}
    if body.rest_auth is not None:
        fields["rest_auth"] = body.rest_auth
    info = await fcall(_fx(request).registry.update, api_name, **fields)
    return _function_response(info)


@router.post(
    "/api/functions/{api_name}/execute",
    response_model=ExecutionResultOut,
    responses=_ERRORS
    | {409: {"model": ZohoErrorOut, "description": "no version given and none published"}},
    tags=_TAGS,
    summary="Run with test arguments (recorded, trigger manual); HTTP 200 for any outcome",
    openapi_extra=body_doc(ExecuteRequest, required=False),
)
async def execute_function(request: Request, api_name: str) -> Response:
    principal = await admin(request)
    body = await read_model(request, ExecuteRequest)
    result = await fcall(
        _fx(request).executor.run,
        api_name,
        body.arguments,
        version=body.version,
        user_id=str(principal.user.id),
        trigger={"type": "manual"},
    )
    return json_response(result.to_json())


# ---- helpers ------------------------------------------------------------------------------------


def _function_response(info: Any) -> Response:
    out: dict[str, Any] = {"function": info.to_json()}
    if info.rest_enabled and info.rest_auth != "oauth":
        out["warning"] = APIKEY_WARNING
    return json_response(out)


def _number(text: str) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 9 or int(value) < 1:
        raise ZohoError(
            "INVALID_DATA", "the version number is invalid", 400, {"resource_path_index": 4}
        )
    return int(value)
