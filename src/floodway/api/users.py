"""Users and org (zoho-rest-compat.md §8.4, §8.5): the v8 SDK reads both after every new token."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .auth import require
from .common import call, check_version, crm
from .errors import invalid_param, json_response, no_content
from .parsing import page_params, path_id, query

router = APIRouter()

USER_TYPES: Final = {
    "currentuser": "CurrentUser",
    "allusers": "AllUsers",
    "activeusers": "ActiveUsers",
    "adminusers": "AdminUsers",
    "activeconfirmedusers": "ActiveUsers",
    "activeconfirmedadmins": "AdminUsers",
}


@router.get("/crm/{version}/users")
async def users(request: Request, version: str) -> Response:
    check_version(version)
    principal = await require(request, "users")
    q = query(request)
    kind = USER_TYPES.get((q.get("type") or "AllUsers").strip().lower())
    if kind is None:
        raise invalid_param("type")
    page, per_page = page_params(q)
    service = crm(request).users
    if kind == "CurrentUser":
        found = [principal.user]
    else:
        found = await call(service.list, kind)
    start = (page - 1) * per_page
    chosen = found[start : start + per_page]
    if not chosen:
        return no_content()
    items = [await call(service.user_json, u) for u in chosen]
    info = {
        "per_page": per_page,
        "count": len(items),
        "page": page,
        "more_records": len(found) > start + per_page,
    }
    return json_response({"users": items, "info": info})


@router.get("/crm/{version}/users/{user_id}")
async def user(request: Request, version: str, user_id: str) -> Response:
    check_version(version)
    await require(request, "users")
    uid = path_id(user_id, 1)
    service = crm(request).users
    found = await call(service.get, uid)
    if found is None:
        return no_content()
    return json_response({"users": [await call(service.user_json, found)]})


@router.get("/crm/{version}/org")
async def org(request: Request, version: str) -> Response:
    check_version(version)
    await require(request, "org")
    return json_response({"org": [await call(crm(request).org_json)]})
