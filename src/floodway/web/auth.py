"""Sign-in, sign-out and Home (console-ux.md §3.1, §3.2; security.md AUTH-5 to AUTH-8).

An unknown e-mail, a wrong password and a deactivated account all get one message. The sign-in
form carries its own CSRF token (a short-lived cookie compared with a hidden field), because there
is no session yet to hold one; a new session id is issued at every sign-in.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any, Final

import sqlalchemy as sa
from fastapi import APIRouter
from starlette.responses import Response

from . import schema as t
from .http import CSRF_FIELD, LOGIN_COOKIE, Ctx, readable_modules, route, safe_next

router = APIRouter()

WRONG: Final = "Email or password is wrong"
LOGIN_COOKIE_AGE_S: Final = 3600
PASSWORD_MAX: Final = 1024


def _login_page(
    ctx: Ctx,
    *,
    email: str = "",
    error: str | None = None,
    status: int = 200,
    retry_after: int = 0,
    next_url: str = "/",
) -> Response:
    token = secrets.token_urlsafe(24)
    ctx.cookies_to_set.append((LOGIN_COOKIE, token, LOGIN_COOKIE_AGE_S))
    response = ctx.render(
        "login.html",
        status=status,
        login_token=token,
        email=email,
        error=error,
        retry_after=retry_after,
        next_url=next_url,
        first_sign_in=_no_session_yet(ctx),
    )
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _no_session_yet(ctx: Ctx) -> bool:
    with ctx.crm.engine.connect() as conn:
        row = conn.execute(sa.select(t.console_sessions.c.digest).limit(1)).first()
    return row is None


def _address(ctx: Ctx) -> str:
    client = ctx.request.client
    return client.host if client else "unknown"


@route(router, "/login", public=True)
def login_form(ctx: Ctx) -> Response:
    next_url = safe_next(ctx.value("next"))
    if ctx.maybe_viewer is not None:
        return ctx.redirect(next_url)
    return _login_page(ctx, next_url=next_url)


@route(router, "/login", ("POST",), public=True)
def login(ctx: Ctx) -> Response:
    email = ctx.value("email").strip()[:320]
    password = ctx.value("password")
    next_url = safe_next(ctx.value("next"))
    presented = ctx.value(CSRF_FIELD)
    expected = ctx.request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not presented or not hmac.compare_digest(presented, expected):
        return _login_page(
            ctx,
            email=email,
            status=403,
            error="The sign-in form expired. Please sign in again.",
            next_url=next_url,
        )
    if ctx.insecure_banner and not getattr(ctx.settings, "insecure_cookies", False):
        return _login_page(
            ctx,
            email=email,
            status=403,
            error="Signing in over plain http is only allowed on a loopback address. Use https, "
            "or set insecure_cookies = true in settings.toml.",
            next_url=next_url,
        )
    address = _address(ctx)
    wait = ctx.sessions.retry_after_s(email, address)
    if wait:
        return _login_page(
            ctx,
            email=email,
            status=429,
            error=f"Too many failed sign-ins. Try again in {wait} s.",
            retry_after=wait,
            next_url=next_url,
        )
    user = None
    if email and password and len(password) <= PASSWORD_MAX:
        user = ctx.crm.users.verify_password(email, password)
    if user is None:
        ctx.sessions.record_failure(email, address)
        return _login_page(ctx, email=email, status=401, error=WRONG, next_url=next_url)
    ctx.sessions.clear_failures(email, address)
    ctx.sessions.delete(ctx.session_token)  # a new session id at every sign-in (AUTH-7)
    token, _session = ctx.sessions.create(user.id)
    ctx.cookies_to_set.append((ctx.session_cookie, token, ctx.sessions.max_age_ms // 1000))
    ctx.cookies_to_set.append((LOGIN_COOKIE, "", 0))
    return ctx.redirect(next_url)


@route(router, "/logout", ("POST",))
def logout(ctx: Ctx) -> Response:
    ctx.sessions.delete(ctx.session_token)
    ctx.cookies_to_set.append((ctx.session_cookie, "", 0))
    return ctx.redirect("/login")


@route(router, "/")
def home(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    modules = readable_modules(ctx, viewer)
    executions: list[dict[str, Any]] = []
    if viewer.has("manage_functions"):
        executions = ctx.functions.executions.list(limit=10)
    return ctx.render("home.html", modules=modules, executions=executions)
