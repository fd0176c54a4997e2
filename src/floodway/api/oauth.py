"""The accounts endpoints on the API's own host (zoho-rest-compat.md §2).

Token errors follow Zoho's accounts server: HTTP 200 with ``{"error": code}``; clients fail on the
missing ``access_token``. Responses carry ``Cache-Control: no-store`` (security.md AUTH-2).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .auth import client_address
from .common import call, crm
from .errors import json_response
from .parsing import token_params

router = APIRouter()

NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_OTHER_METHODS: Final = ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def api_domain(request: Request) -> str:
    """This server's public base URL: the ``public_url`` setting, else the request's own."""
    configured = request.app.state.config.public_url
    if configured:
        return str(configured)
    return str(request.base_url).rstrip("/")


def _throttled(request: Request) -> Response | None:
    limiter = request.app.state.token_limiter
    if not limiter.enabled:
        return None
    decision = limiter.take("token:" + client_address(request))
    if decision.allowed:
        return None
    return json_response({"error": "too_many_requests"}, 429, {**NO_STORE, **decision.headers()})


@router.post("/oauth/v2/token")
async def token(request: Request) -> Response:
    refused = _throttled(request)
    if refused is not None:
        return refused
    params = await token_params(request)
    body: dict[str, Any] = await call(
        crm(request).oauth.token, params, api_domain=api_domain(request)
    )
    return json_response(body, 200, NO_STORE)


@router.post("/oauth/v2/token/revoke")
async def revoke(request: Request) -> Response:
    refused = _throttled(request)
    if refused is not None:
        return refused
    params = await token_params(request)
    value = params.get("token") or params.get("refresh_token")
    if not value:
        return json_response({"error": "invalid_request"}, 200, NO_STORE)
    await call(crm(request).oauth.revoke, value)
    # RFC 7009 §2.2: an unknown token is answered like a revoked one.
    return json_response({"status": "success"}, 200, NO_STORE)


@router.api_route("/oauth/v2/token", methods=_OTHER_METHODS)
@router.api_route("/oauth/v2/token/revoke", methods=_OTHER_METHODS)
async def token_other_methods(request: Request) -> Response:
    return json_response({"error": "invalid_request"}, 405, {**NO_STORE, "Allow": "POST"})
