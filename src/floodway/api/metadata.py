"""Metadata endpoints the SDKs read before touching records (zoho-rest-compat.md §8.1-§8.3).

Registered before the record routes, so ``/crm/{v}/settings/...`` never reads as a module named
``settings``; any other ``settings`` path is ``INVALID_URL_PATTERN``.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .auth import authenticate, require
from .common import call, check_version, crm, resolve_module
from .errors import invalid_url, json_response, param_missing
from .parsing import query

router = APIRouter()

SE_MODULE: Final = "se_module"


@router.get("/crm/{version}/settings/modules")
async def modules(request: Request, version: str) -> Response:
    check_version(version)
    await require(request, "settings")
    items = await call(crm(request).metadata.modules_json)
    return json_response({"modules": items})


@router.get("/crm/{version}/settings/modules/{module_name}")
async def module(request: Request, version: str, module_name: str) -> Response:
    check_version(version)
    await require(request, "settings")
    item = await call(crm(request).metadata.module_json, module_name)
    return json_response({"modules": [item]})


async def _module_param(request: Request) -> str:
    await authenticate(request)
    name = query(request).get("module")
    if name is None or not name.strip():
        raise param_missing("module")
    return str((await resolve_module(request, name.strip())).api_name)


@router.get("/crm/{version}/settings/fields")
async def fields(request: Request, version: str) -> Response:
    legacy = check_version(version)
    await require(request, "settings")
    name = await _module_param(request)
    items = await call(crm(request).metadata.fields_json, name, legacy=legacy)
    return json_response({"fields": [_multi_module_lookup(f, legacy) for f in items]})


def _multi_module_lookup(field: dict[str, Any], legacy: bool) -> dict[str, Any]:
    """``Parent_Id`` / ``What_Id`` point to any module: Zoho names the lookup module
    ``se_module``; the v8 SDK calls ``.lower()`` on that name and fails on null."""
    lookup = field.get("lookup")
    if not isinstance(lookup, dict) or not lookup:
        return field
    module = lookup.get("module")
    if legacy and module is None:
        return {**field, "lookup": {**lookup, "module": SE_MODULE}}
    if isinstance(module, dict) and module.get("api_name") is None:
        return {**field, "lookup": {**lookup, "module": {**module, "api_name": SE_MODULE}}}
    return field


@router.get("/crm/{version}/settings/related_lists")
async def related_lists(request: Request, version: str) -> Response:
    legacy = check_version(version)
    await require(request, "settings")
    name = await _module_param(request)
    items = await call(crm(request).metadata.related_lists_json, name, legacy=legacy)
    return json_response({"related_lists": items})


@router.api_route(
    "/crm/{version}/settings/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
)
async def other_settings(request: Request, version: str, rest: str) -> Response:
    raise invalid_url()


# Paths of compat §1 that floodway does not serve yet: answered as unknown URLs rather than
# being read as a module name.
@router.api_route("/crm/{version}/settings", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@router.api_route("/crm/{version}/coql", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@router.api_route(
    "/crm/{version}/functions/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
)
async def not_served(request: Request, version: str, rest: str = "") -> Response:
    raise invalid_url()
