"""The FastAPI application: routers, Zoho-shaped error handling, limits.

``create_app(crm, settings)`` builds an app around one ``Crm`` service (crm-service-api.md). The
layers, outermost first: ``RequestGuard`` (DOS-5 limits, catch-all ``INTERNAL_ERROR``), Starlette's
exception handling (``ZohoError`` / ``CrmError`` / 404 / 405 -> Zoho envelopes), the routers.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..automation.errors import AutomationError
from . import (
    admin,
    connections,
    executions,
    metadata,
    oauth,
    outbox,
    records,
    rest_functions,
    users,
    variables,
)
from . import automation as automation_api
from . import functions as functions_api
from .config import ApiConfig
from .errors import (
    MSG_INVALID_DATA,
    ZohoError,
    invalid_method,
    invalid_url,
    json_response,
)
from .guard import RequestGuard
from .ratelimit import TokenBucket

log = logging.getLogger("floodway.api")


def create_app(
    crm: Any,
    settings: Any = None,
    *,
    config: ApiConfig | None = None,
    sealer: Any = None,
    functions: Any = None,
    automation: Any = None,
) -> FastAPI:
    """``sealer`` encrypts the API key's display copy (security.md SEC-1); optional.
    ``functions``: the process's ``Functions`` service; created on first use when omitted.
    ``automation``: the process's ``floodway.automation.service.Automation``; without it the
    automation admin routes use a rule store of their own and the run routes answer 501."""
    config = config or ApiConfig.from_settings(settings)
    app = FastAPI(
        title="floodway",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    app.state.crm = crm
    app.state.settings = settings
    app.state.config = config
    app.state.sealer = sealer
    app.state.functions = functions
    app.state.automation = automation
    if functions is not None:
        from .in_process import InProcessCrmApi

        functions.in_process_api = InProcessCrmApi(app, crm)
    app.state.limiter = TokenBucket(config.rate_limit_per_s, config.rate_limit_burst)
    app.state.token_limiter = TokenBucket(config.rate_limit_per_s, config.rate_limit_burst)

    @app.get("/health")
    async def health() -> Response:
        return json_response({"status": "ok"})

    app.include_router(oauth.router)
    app.include_router(admin.router)
    app.include_router(functions_api.router)
    app.include_router(executions.router)
    app.include_router(variables.router)
    app.include_router(outbox.router)
    app.include_router(connections.router)
    app.include_router(automation_api.router)
    runs = _optional_router("automation_runs")
    if runs is not None:
        app.include_router(runs)
    app.include_router(rest_functions.router)  # before records: /crm/{v}/functions/… would match
    app.include_router(metadata.router)
    app.include_router(users.router)
    app.include_router(records.router)

    app.add_exception_handler(ZohoError, _zoho_error)
    app.add_exception_handler(AutomationError, _automation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    try:
        from ..crm.errors import CrmError
    except ImportError:  # pragma: no cover - the CRM layer always ships it
        pass
    else:
        app.add_exception_handler(CrmError, _crm_error)
    from ..web import mount as mount_console

    mount_console(app)  # the browser console at / (web/)
    app.add_middleware(RequestGuard, config=config)
    return app


def _optional_router(name: str) -> Any:
    """The router of ``api/<name>.py`` while that module is still being written (None if absent;
    an import error inside an existing module propagates)."""
    qualified = f"{__package__}.{name}"
    try:
        module = importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name == qualified:
            return None
        raise
    return module.router


async def _automation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AutomationError)
    return json_response(exc.to_json(), exc.http_status)


async def _zoho_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ZohoError)
    return exc.response()


async def _crm_error(request: Request, exc: Exception) -> Response:
    status = int(getattr(exc, "http_status", 400))
    body = exc.to_json()  # type: ignore[attr-defined]
    if status >= 500:
        log.error("CRM error %s on %s %s", body.get("code"), request.method, request.url.path)
    return json_response(body, status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        return invalid_method().response()
    if exc.status_code == 404:
        return invalid_url().response()
    return ZohoError("INVALID_REQUEST", str(exc.detail), exc.status_code).response()


async def _validation_error(request: Request, exc: Exception) -> Response:
    return ZohoError("INVALID_DATA", MSG_INVALID_DATA, 400).response()
