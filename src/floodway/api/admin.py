"""The admin JSON API (``/api/...``): schema changes at run time, the org API key.

Authenticates with the same OAuth tokens as the records API (issue 3 item 7). Each route declares
its requirement (security.md AZ-2): a settings-write scope and the ``manage_settings`` permission
for schema changes, ``manage_functions`` for the API key (AZ-1).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .auth import authenticate
from .common import call, crm
from .errors import MSG_INVALID_DATA, ZohoError, json_response, no_permission, scope_mismatch
from .parsing import json_body

router = APIRouter()

_SETTINGS_WRITE: Final = frozenset(
    {"zohocrm.settings.all", "zohocrm.settings.modules.all", "zohocrm.settings.fields.all"}
)


async def _admin(request: Request, permission: str) -> Any:
    principal = await authenticate(request)
    if permission == "manage_settings" and not (_SETTINGS_WRITE & set(principal.scopes)):
        raise scope_mismatch()
    if not principal.profile.has(permission):
        raise no_permission({"permission": permission})
    return principal


async def _object_body(request: Request) -> dict[str, Any]:
    body = await json_body(request, request.app.state.config.max_json_depth)
    if not isinstance(body, dict):
        raise ZohoError("INVALID_DATA", "the body must be a JSON object", 400, {})
    return body


def _text(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ZohoError(
                "MANDATORY_NOT_FOUND", "required field not found", 400, {"api_name": name}
            )
        return None
    if not isinstance(value, str):
        raise ZohoError("INVALID_DATA", MSG_INVALID_DATA, 400, {"api_name": name})
    return value


@router.post("/api/modules")
async def add_module(request: Request) -> Response:
    """Body ``{"api_name", "singular_label"?, "plural_label"?, "name_field"?}``."""
    await _admin(request, "manage_settings")
    body = await _object_body(request)
    kwargs: dict[str, Any] = {}
    for key in ("singular_label", "plural_label", "name_field"):
        value = _text(body, key)
        if value is not None:
            kwargs[key] = value
    api_name = _text(body, "api_name", required=True)
    module = await call(crm(request).metadata.add_module, api_name, **kwargs)
    item = await call(crm(request).metadata.module_json, module.api_name)
    return json_response({"modules": [item]}, 201)


@router.post("/api/modules/{module_name}/fields")
async def add_field(request: Request, module_name: str) -> Response:
    """Body ``{"api_name", "type", "label"?, "mandatory"?, "unique"?, "length"?,
    "pick_list_values"?, "lookup_module"?, "min_value"?, "max_value"?}``."""
    await _admin(request, "manage_settings")
    body = await _object_body(request)
    module = await call(crm(request).metadata.module, module_name)
    api_name = _text(body, "api_name", required=True)
    field_type = _text(body, "type", required=True)
    kwargs: dict[str, Any] = {}
    for key, kind in (
        ("label", str),
        ("mandatory", bool),
        ("unique", bool),
        ("length", int),
        ("lookup_module", str),
        ("min_value", int),
        ("max_value", int),
    ):
        if body.get(key) is None:
            continue
        value = body[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ZohoError("INVALID_DATA", MSG_INVALID_DATA, 400, {"api_name": key})
        kwargs[key] = value
    values = body.get("pick_list_values")
    if values is not None:
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ZohoError("INVALID_DATA", MSG_INVALID_DATA, 400, {"api_name": "pick_list_values"})
        kwargs["pick_list_values"] = values
    field = await call(
        crm(request).metadata.add_field, module.api_name, api_name, field_type, **kwargs
    )
    items = await call(crm(request).metadata.fields_json, module.api_name)
    item = next((f for f in items if f.get("api_name") == field.api_name), None)
    return json_response({"fields": [item]}, 201)


@router.post("/api/apikey/rotate")
async def rotate_api_key(request: Request) -> Response:
    """A new org API key (``zapikey``), shown once; the old one stops working at once."""
    await _admin(request, "manage_functions")
    sealer = getattr(request.app.state, "sealer", None)
    key = await call(crm(request).oauth.rotate_api_key, sealer)
    return json_response({"zapikey": key}, 200, {"Cache-Control": "no-store"})
