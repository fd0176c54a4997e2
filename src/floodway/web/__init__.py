"""The browser console served at ``/`` (console-ux.md): server-rendered Jinja2 pages with htmx.

``mount(app)`` adds the console to the FastAPI app built by ``api.app.create_app``: its routes,
the static assets (every file ships in the package: nothing is fetched at run time, SC-4), the
security headers of console responses and HTML 404 pages for console URLs that match no route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

STATIC: Final = Path(__file__).parent / "static"


def mount(app: Any) -> None:
    """Routes, static files, headers and error pages of the console on ``app``."""
    from . import (
        auth,
        automation_hooks,
        automation_pages,
        connections_pages,
        dashboard,
        editor,
        executions_pages,
        function_history,
        function_settings,
        functions_pages,
        palette,
        records,
        settings_pages,
    )
    from .http import ConsoleHeaders, Ctx, error_page, is_console_path, make_templates
    from .sessions import SessionStore

    crm = app.state.crm
    settings = getattr(app.state, "settings", None)
    app.state.console_sessions = SessionStore(crm, getattr(settings, "session_max_age_s", None))
    app.state.console_templates = make_templates()

    app.include_router(auth.router)
    app.include_router(records.router)
    app.include_router(automation_hooks.router)
    app.include_router(functions_pages.router)
    app.include_router(function_history.router)
    app.include_router(function_settings.router)
    app.include_router(editor.router)
    app.include_router(automation_pages.router)
    app.include_router(connections_pages.router)
    app.include_router(executions_pages.router)
    app.include_router(dashboard.router)
    app.include_router(settings_pages.router)
    app.include_router(palette.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="console-static")

    previous = app.exception_handlers.get(StarletteHTTPException)

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        # Browsers (asking for HTML) get the console's page; API clients keep the Zoho
        # envelope for unknown URLs, which the REST compatibility promises.
        wants_html = "text/html" in request.headers.get("accept", "")
        if exc.status_code in (404, 405) and wants_html and is_console_path(request.url.path):
            from starlette.concurrency import run_in_threadpool

            ctx = Ctx(request, None)
            return await run_in_threadpool(
                error_page, ctx, 404, "Not found", "There is no page at this address."
            )
        if previous is None:
            raise exc
        result: Response = await previous(request, exc)
        return result

    app.add_exception_handler(StarletteHTTPException, not_found)
    app.add_middleware(ConsoleHeaders)
