"""How a console request is handled: who is asking, CSRF, rendering, error pages, headers.

Every console route is a plain function ``handler(ctx, **path_params) -> Response`` registered
with ``route``. It runs on a worker thread (the CRM calls block), after the form has been read.
The wrapper turns the console's exceptions into pages: ``LoginRequired`` into a redirect to the
sign-in page, ``Forbidden``/``NotFound`` into 403/404 pages, any other exception into a 500 page
naming a reference that is also in the log, never a stack trace (console-ux.md §2 "Failures").
Unsafe requests need a same-origin ``Origin``/``Sec-Fetch-Site`` and the session's CSRF token
(security.md AUTH-8) before the handler runs.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .sessions import Session, SessionStore

log = logging.getLogger("floodway.web")

TEMPLATES: Final = Path(__file__).parent / "templates"
SESSION_COOKIE: Final = "floodway_session"
SECURE_SESSION_COOKIE: Final = "__Host-floodway_session"
LOGIN_COOKIE: Final = "floodway_login"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "x-csrf-token"
API_PREFIXES: Final = ("/crm/", "/api/", "/oauth/", "/health")
UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# security.md AUTH-9: no inline script or style anywhere in the console.
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Editor pages: CodeMirror's generated styles carry this per-response nonce (AUTH-9). A handler
# sets it with ``style_nonce(response)``; the header is internal and never leaves the server.
STYLE_NONCE_HEADER: Final = b"x-floodway-style-nonce"
_NONCE_CHARS: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
SECURITY_HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


def new_style_nonce() -> str:
    """A fresh nonce for one response's ``<style nonce>`` elements (see ``allow_style_nonce``)."""
    return secrets.token_urlsafe(18)


def allow_style_nonce(response: Response, nonce: str) -> Response:
    """Let ``response``'s CSP accept styles carrying ``nonce``."""
    response.headers[STYLE_NONCE_HEADER.decode()] = nonce
    return response


def _csp_with_nonce(nonce: bytes) -> bytes:
    if not nonce or len(nonce) > 64 or not set(nonce) <= _NONCE_CHARS:
        return CSP.encode()
    return CSP.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce.decode()}'").encode()


def is_console_path(path: str) -> bool:
    return not any(path == p.rstrip("/") or path.startswith(p) for p in API_PREFIXES)


# ---------------------------------------------------------------------------------- outcomes


class LoginRequired(Exception):
    """No live session: the browser goes to the sign-in page and comes back afterwards."""


class Forbidden(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------- viewer


@dataclass(frozen=True)
class Viewer:
    """The signed-in user with their profile's rights."""

    user: Any
    profile: Any
    session: Session

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def can(self, module: str, op: str) -> bool:
        return bool(self.profile.can(module, op))

    def has(self, permission: str) -> bool:
        return bool(self.profile.has(permission))

    def require(self, permission: str, page: str) -> None:
        if not self.has(permission):
            raise Forbidden(
                f"Your profile ({self.profile.name}) cannot open {page}. Ask an administrator."
            )

    def require_module(self, module: str, op: str, label: str) -> None:
        if not self.can(module, op):
            verb = {"read": "open", "create": "create", "edit": "edit", "delete": "delete"}[op]
            raise Forbidden(
                f"Your profile ({self.profile.name}) cannot {verb} {label}. Ask an administrator."
            )


# ---------------------------------------------------------------------------------- context


@dataclass
class Ctx:
    """One console request: the request, its form (unsafe methods) and lazily the viewer."""

    request: Request
    form: FormData | None
    params: dict[str, str] = field(default_factory=dict)
    cookies_to_set: list[tuple[str, str, int | None]] = field(default_factory=list)

    @property
    def app(self) -> Any:
        return self.request.app

    @property
    def crm(self) -> Any:
        return self.app.state.crm

    @property
    def settings(self) -> Any:
        return self.app.state.settings

    @property
    def functions(self) -> Any:
        """The process's ``Functions`` service, shared with the REST API (created on first use)."""
        from floodway.api.functions import service

        return service(self.request)

    @property
    def automation(self) -> Any:
        """The automation service when this process runs one, else None (hooks render nothing)."""
        return getattr(self.app.state, "automation", None)

    @property
    def sessions(self) -> SessionStore:
        store: SessionStore = self.app.state.console_sessions
        return store

    @property
    def secure(self) -> bool:
        return self.request.url.scheme == "https"

    @property
    def session_cookie(self) -> str:
        return SECURE_SESSION_COOKIE if self.secure else SESSION_COOKIE

    @property
    def insecure_banner(self) -> bool:
        """Plain http off loopback: sessions can be read on the wire (AUTH-7)."""
        return not self.secure and not _loopback_server(self.request)

    @cached_property
    def session_token(self) -> str | None:
        return self.request.cookies.get(self.session_cookie)

    @cached_property
    def maybe_viewer(self) -> Viewer | None:
        session = self.sessions.load(self.session_token)
        if session is None:
            return None
        user = self.crm.users.get(session.user_id)
        if user is None or not user.active:
            self.sessions.delete(self.session_token)
            return None
        return Viewer(user, self.crm.users.profile(user), session)

    @property
    def viewer(self) -> Viewer:
        viewer = self.maybe_viewer
        if viewer is None:
            raise LoginRequired()
        return viewer

    def value(self, name: str, default: str = "") -> str:
        """A form value (unsafe methods) or query parameter, as text."""
        if self.form is not None and name in self.form:
            v = self.form.get(name)
            return v if isinstance(v, str) else default
        return self.request.query_params.get(name, default)

    def values(self, name: str) -> list[str]:
        if self.form is not None:
            return [v for v in self.form.getlist(name) if isinstance(v, str)]
        return list(self.request.query_params.getlist(name))

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def url(self, path: str, **query: Any) -> str:
        shown = [(k, str(v)) for k, v in query.items() if v not in (None, "")]
        if not shown:
            return path
        return path + "?" + "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in shown)

    # ---------------------------------------------------------------- responses

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        body = self.render_text(template, **context)
        return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    def render_text(self, template: str, **context: Any) -> str:
        env: Environment = self.app.state.console_templates
        viewer = self.maybe_viewer
        base = {
            "ctx": self,
            "viewer": viewer,
            "csrf": viewer.csrf if viewer is not None else "",
            "nav": navigation(self, viewer) if viewer is not None else None,
            "org": _org(self),
            "path": self.request.url.path,
            "insecure": self.insecure_banner,
        }
        return env.get_template(template).render({**base, **context})

    def redirect(self, url: str, status: int = 303) -> Response:
        return RedirectResponse(url, status_code=status)


# ---------------------------------------------------------------------------------- routing

Handler = Callable[..., Response]


def route(
    router: Any, path: str, methods: tuple[str, ...] = ("GET",), *, public: bool = False
) -> Callable[[Handler], Handler]:
    """Register ``handler(ctx, **path_params)`` as a console route (AZ-2: ``public`` names the
    few routes that need no session; everything else asks for one before the handler runs)."""

    def decorate(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            form = None
            if request.method in UNSAFE:
                try:
                    form = await request.form()
                except Exception:  # a malformed body is the client's problem, not a 500
                    form = FormData()
            return await run_in_threadpool(_invoke, handler, request, form, public)

        endpoint.__name__ = f"console_{handler.__name__}"
        router.add_api_route(path, endpoint, methods=list(methods), include_in_schema=False)
        return handler

    return decorate


def _invoke(handler: Handler, request: Request, form: FormData | None, public: bool) -> Response:
    started = time.perf_counter()
    ctx = Ctx(request, form, dict(request.path_params))
    try:
        if request.method in UNSAFE:
            _check_origin(request)
            if not public:
                viewer = ctx.viewer
                presented = (form.get(CSRF_FIELD) if form is not None else None) or (
                    request.headers.get(CSRF_HEADER)
                )
                if not viewer.session.csrf_ok(presented if isinstance(presented, str) else None):
                    raise Forbidden(
                        "This form has expired or did not come from floodway. "
                        "Go back, reload the page and submit again."
                    )
        elif not public:
            ctx.viewer  # noqa: B018 - raises LoginRequired before any work is done
        response = handler(ctx, **ctx.params)
    except LoginRequired:
        response = _to_login(ctx)
    except Forbidden as exc:
        response = error_page(ctx, 403, "Not allowed", exc.message)
    except NotFound as exc:
        response = error_page(ctx, 404, "Not found", exc.message)
    except Exception:
        reference = "req-" + secrets.token_hex(3)
        log.exception("console error %s on %s %s", reference, request.method, request.url.path)
        response = error_page(
            ctx, 500, "Something went wrong", f"Something went wrong. Reference {reference}"
        )
    for name, value, max_age in ctx.cookies_to_set:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=ctx.secure,
            httponly=True,
            samesite="lax",
        )
    # The server's own share of the request (session, queries, rendering), for the browser's
    # network panel and benchmarks/ui.py.
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


def _check_origin(request: Request) -> None:
    """Unsafe requests from another site are refused before any work (AUTH-8)."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        raise Forbidden("Requests from other sites are not accepted.")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = f"{request.url.scheme}://{request.url.netloc}"
        if origin.rstrip("/").lower() != own.lower():
            raise Forbidden("Requests from other sites are not accepted.")
    elif origin == "null":
        raise Forbidden("Requests from other sites are not accepted.")


def _to_login(ctx: Ctx) -> Response:
    request = ctx.request
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET":
        target = request.headers.get("referer", "") or "/"
        target = safe_next(target)
    url = "/login" if target in ("/", "") else "/login?next=" + quote(target, safe="")
    if ctx.is_htmx:
        # htmx follows redirects inside the fragment; ask for a full page load instead.
        return Response(status_code=401, headers={"HX-Redirect": url})
    return ctx.redirect(url)


def safe_next(target: str | None) -> str:
    """A same-origin path to go to after signing in (console-ux.md §3.1), else ``/``."""
    if not target:
        return "/"
    parts = urlsplit(target)
    path = parts.path or "/"
    if parts.scheme or parts.netloc:
        # An absolute URL is accepted only as a way of writing a local path.
        return "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in target:
        return "/"
    if not is_console_path(path) or path.startswith("/login") or path.startswith("/logout"):
        return "/"
    return path + ("?" + parts.query if parts.query else "")


def error_page(ctx: Ctx, status: int, title: str, message: str) -> Response:
    try:
        if ctx.is_htmx:
            body = ctx.render_text("_error_fragment.html", title=title, message=message)
            return HTMLResponse(body, status_code=status, headers={"HX-Reswap": "innerHTML"})
        return ctx.render("error.html", status=status, title=title, message=message)
    except Exception:
        log.exception("console error page failed")
        return HTMLResponse(
            "<!doctype html><title>floodway</title><p>Something went wrong.</p>",
            status_code=status,
        )


def _loopback_server(request: Request) -> bool:
    server = request.scope.get("server")
    host = server[0] if server else None
    if not host:
        return True  # in-process test clients have no socket
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


# ---------------------------------------------------------------------------------- layout data


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    icon: str
    current: bool


HIDDEN_MODULES: Final = frozenset({"Notes", "Attachments"})


def readable_modules(ctx: Ctx, viewer: Viewer) -> list[Any]:
    mods = [
        m
        for m in ctx.crm.metadata.modules()
        if m.api_name not in HIDDEN_MODULES and viewer.can(m.api_name, "read")
    ]
    # Standard modules first (in their sequence), custom modules after them.
    return sorted(mods, key=lambda m: (bool(m.custom), m.sequence_number))


def navigation(ctx: Ctx, viewer: Viewer) -> dict[str, list[NavItem]]:
    path = ctx.request.url.path

    def item(label: str, href: str, icon: str) -> NavItem:
        current = path == href if href == "/" else path == href or path.startswith(href + "/")
        return NavItem(label, href, icon, current)

    records = [
        item(m.plural_label or m.api_name, f"/m/{m.api_name}", "record")
        for m in readable_modules(ctx, viewer)
    ]
    build = []
    if viewer.has("manage_functions"):
        build.append(item("Functions", "/functions", "function"))
    if viewer.has("manage_workflow"):
        build.append(item("Automation", "/automation", "automation"))
    if viewer.has("manage_functions"):
        build.append(item("Connections", "/connections", "link"))
    observe = []
    if viewer.has("manage_functions"):
        observe.append(item("Executions", "/executions", "list"))
        observe.append(item("Dashboard", "/dashboard", "chart"))
    if any(viewer.has(p) for p in ("manage_users", "manage_settings", "manage_functions")):
        observe.append(item("Settings", "/settings", "settings"))
    return {
        "home": [item("Home", "/", "home")],
        "records": records,
        "build": build,
        "observe": observe,
    }


def _org(ctx: Ctx) -> Mapping[str, Any]:
    cached = getattr(ctx.app.state, "console_org", None)
    if cached is None:
        try:
            org = ctx.crm.org_json()
            cached = {"name": org.get("company_name") or "floodway", "time_zone": org["time_zone"]}
        except Exception:
            cached = {"name": "floodway", "time_zone": ctx.crm.time_zone_name}
        ctx.app.state.console_org = cached
    return cached


def make_templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from . import formatting

    formatting.install(env)
    return env


# ---------------------------------------------------------------------------------- headers


class ConsoleHeaders:
    """Adds the console's security headers (AUTH-9) to every console response, error pages and
    static files included; API responses are left as the API layer made them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_console_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                nonce = b""
                headers = []
                for k, v in message.get("headers", []):
                    if k.lower() == STYLE_NONCE_HEADER:
                        nonce = v
                    elif k.lower() not in {h for h, _ in SECURITY_HEADERS}:
                        headers.append((k, v))
                headers.extend(SECURITY_HEADERS)
                if nonce:
                    headers[-len(SECURITY_HEADERS)] = (
                        b"content-security-policy",
                        _csp_with_nonce(nonce),
                    )
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
