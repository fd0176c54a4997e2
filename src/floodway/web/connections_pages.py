"""Connections (console-ux.md §3.11): list, create or replace, delete, test, and the OAuth2
authorization-code flow ("Authorize").

Secrets are write-only (security.md SEC-4): the pages show whether one is set and its
fingerprint; an edit that leaves a secret blank keeps the stored one. Connections hold
credentials, so every route needs ``manage_functions``.

Authorize: the console keeps the typed configuration (client secret included) in this process's
memory under a random ``state`` for ten minutes and sends the browser to the provider's
``authorize_url``. The provider sends it back to ``/connections/oauth/callback`` with ``code``
and ``state``; the code is exchanged at ``token_url`` through the functions layer's outbound
client (the invokeurl destination policy applies, NET-1) and the refresh token is stored with
``functions.connections.put``. Only the user who started the flow can finish it. A server
restart in between loses the pending state; the user starts again.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter
from starlette.responses import Response

from .automation_forms import Errors
from .http import Ctx, NotFound, route

router = APIRouter()

PAGE: Final = "Connections"
TYPES: Final = (
    ("oauth2_authorization_code", "OAuth2 authorization code"),
    ("oauth2_client_credentials", "OAuth2 client credentials"),
    ("api_key", "API key"),
    ("basic", "Basic authentication"),
)
SECRETS: Final = ("client_secret", "api_key", "password")
PENDING_TTL_S: Final = 600
PENDING_MAX: Final = 200
CALLBACK: Final = "/connections/oauth/callback"


@dataclass
class ConnForm:
    name: str = ""
    type: str = "oauth2_authorization_code"
    token_url: str = ""
    authorize_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    scopes: str = ""
    api_key: str = ""
    api_key_header: str = ""
    api_key_query: str = ""
    username: str = ""
    password: str = ""
    hosts: str = ""
    base_url: str = ""
    client_auth: str = "body"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pending:
    user_id: str
    spec: Any  # ConnectionSpec without refresh token
    redirect_uri: str
    expires: float


def _fx(ctx: Ctx) -> Any:
    ctx.viewer.require("manage_functions", PAGE)
    return ctx.functions


def _pending(ctx: Ctx) -> tuple[threading.Lock, dict[str, Pending]]:
    state = ctx.app.state
    if getattr(state, "console_oauth_pending", None) is None:
        state.console_oauth_pending = (threading.Lock(), {})
    found: tuple[threading.Lock, dict[str, Pending]] = state.console_oauth_pending
    return found


def _redirect_uri(ctx: Ctx) -> str:
    base = getattr(ctx.settings, "public_url", None)
    if not base:
        url = ctx.request.url
        base = f"{url.scheme}://{url.netloc}"
    return base.rstrip("/") + CALLBACK


def _stored(fx: Any, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = fx.connections.get_json(name)
    except Exception as exc:
        if getattr(exc, "code", None) == "NOT_FOUND":
            return None
        raise
    return found


@route(router, "/connections")
def connection_list(ctx: Ctx) -> Response:
    fx = _fx(ctx)
    toasts = {"deleted": "Connection deleted", "saved": "Connection saved"}
    return ctx.render(
        "connections/list.html",
        connections=fx.connections.list(),
        toast=toasts.get(ctx.value("done")),
    )


@route(router, "/connections/new")
def connection_new(ctx: Ctx) -> Response:
    _fx(ctx)
    form = ConnForm(type=ctx.value("type") if ctx.value("type") in dict(TYPES) else TYPES[0][0])
    return _form_page(ctx, form, None)


@route(router, "/connections/oauth/callback")
def oauth_callback(ctx: Ctx) -> Response:
    fx = _fx(ctx)
    state = ctx.value("state")
    lock, pending = _pending(ctx)
    with lock:
        found = pending.pop(state, None) if state else None
    if found is None or found.expires < time.monotonic() or found.user_id != ctx.viewer.user.id:
        return _callback_page(
            ctx,
            None,
            "This authorization is unknown or expired (it lasts 10 minutes and only the user "
            "who started it can finish it). Start it again with Authorize.",
            status=400,
        )
    spec = found.spec
    if ctx.value("error"):
        detail = ctx.value("error_description")
        message = f"The provider refused: {ctx.value('error')[:100]}"
        if detail:
            message += f" — {detail[:300]}"
        return _callback_page(ctx, spec.name, message, status=400)
    code = ctx.value("code")
    if not code:
        return _callback_page(ctx, spec.name, "The provider sent no code back.", status=400)
    try:
        refresh = _exchange(fx, spec, code, found.redirect_uri)
    except _TokenError as exc:
        return _callback_page(ctx, spec.name, str(exc), status=502)
    fx.connections.put(replace(spec, refresh_token=refresh))
    return ctx.redirect(f"/connections/{spec.name}?done=authorized")


class _TokenError(Exception):
    pass


def _exchange(fx: Any, spec: Any, code: str, redirect_uri: str) -> str:
    """The refresh token for an authorization code, from the connection's token endpoint."""
    from floodway.functions.address_policy import OutboundError
    from floodway.functions.connections import urlencode_part

    form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ]
    creds: list[tuple[str, str]] = []
    if spec.client_auth == "basic":
        import base64

        pair = f"{urlencode_part(spec.client_id)}:{urlencode_part(spec.client_secret)}"
        creds.append(("Authorization", "Basic " + base64.b64encode(pair.encode()).decode()))
    else:
        form += [("client_id", spec.client_id), ("client_secret", spec.client_secret)]
    try:
        response = fx.outbound.send(
            "POST",
            spec.token_url,
            headers=[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "application/json"),
            ],
            content=urlencode(form).encode("ascii"),
            credentials=creds,
            timeout_s=20.0,
            max_bytes=64 * 1024,
        )
    except OutboundError as exc:
        raise _TokenError(f"The token endpoint could not be reached: {exc}") from None
    payload: dict[str, Any] = {}
    ctype = (response.header("content-type") or "").lower()
    try:
        text = response.body.decode("utf-8")
        data = dict(parse_qsl(text)) if "x-www-form-urlencoded" in ctype else json.loads(text)
        payload = data if isinstance(data, dict) else {}
    except (UnicodeDecodeError, ValueError):
        payload = {}
    if response.status >= 400 or "error" in payload:
        error = str(payload.get("error") or f"HTTP {response.status}")[:100]
        detail = str(payload.get("error_description") or "")[:300]
        raise _TokenError(
            f"The token endpoint refused the code: {error}" + (f" — {detail}" if detail else "")
        )
    refresh = payload.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise _TokenError(
            "The token endpoint sent no refresh token (some providers need an offline-access "
            "scope or access_type=offline)."
        )
    return refresh


def _callback_page(ctx: Ctx, name: str | None, message: str, status: int) -> Response:
    return ctx.render("connections/callback.html", status=status, name=name, message=message)


@route(router, "/connections/{name}")
def connection_edit(ctx: Ctx, name: str) -> Response:
    fx = _fx(ctx)
    stored = _stored(fx, name)
    if stored is None:
        raise NotFound(f"No connection named {name[:100]} — it may have been deleted.")
    toasts = {"authorized": "Connected — refresh token stored", "saved": "Connection saved"}
    return _form_page(ctx, _stored_form(stored), stored, toast=toasts.get(ctx.value("done")))


def _stored_form(stored: dict[str, Any]) -> ConnForm:
    return ConnForm(
        name=stored["name"],
        type=stored["type"],
        token_url=stored.get("token_url") or "",
        client_id=stored.get("client_id") or "",
        scopes=" ".join(stored.get("scopes") or []),
        api_key_header=stored.get("api_key_header") or "",
        api_key_query=stored.get("api_key_query") or "",
        username=stored.get("username") or "",
        hosts=", ".join(stored.get("hosts") or []),
        base_url=stored.get("base_url") or "",
        client_auth=stored.get("client_auth") or "body",
    )


def _form_page(
    ctx: Ctx,
    form: ConnForm,
    stored: dict[str, Any] | None,
    *,
    errors: Errors | None = None,
    status: int = 200,
    **kw: Any,
) -> Response:
    return ctx.render(
        "connections/form.html",
        status=status,
        form=form,
        stored=stored,
        types=TYPES,
        errors=errors or Errors(),
        redirect_uri=_redirect_uri(ctx),
        **kw,
    )


def _form(ctx: Ctx) -> ConnForm:
    v = ctx.value
    return ConnForm(
        name=v("name").strip()[:100],
        type=v("type") if v("type") in dict(TYPES) else TYPES[0][0],
        token_url=v("token_url").strip()[:2000],
        authorize_url=v("authorize_url").strip()[:2000],
        client_id=v("client_id").strip()[:500],
        client_secret=v("client_secret")[:2000],
        scopes=v("scopes").strip()[:2000],
        api_key=v("api_key")[:4000],
        api_key_header=v("api_key_header").strip()[:200],
        api_key_query=v("api_key_query").strip()[:200],
        username=v("username").strip()[:500],
        password=v("password")[:2000],
        hosts=v("hosts").strip()[:2000],
        base_url=v("base_url").strip()[:2000],
        client_auth="basic" if v("client_auth") == "basic" else "body",
    )


def _spec(form: ConnForm, keep: Any = None, *, refresh: bool = True) -> Any:
    """The typed connection; blank secrets keep the stored ones (``keep``: the stored spec)."""
    from floodway.functions.connections import ConnectionSpec

    def secret(name: str) -> str | None:
        typed = getattr(form, name)
        if typed:
            return str(typed)
        return getattr(keep, name, None) if keep is not None else None

    oauth = form.type.startswith("oauth2")
    return ConnectionSpec(
        name=form.name,
        type=form.type,  # type: ignore[arg-type]
        token_url=form.token_url or None if oauth else None,
        client_id=form.client_id or None if oauth else None,
        client_secret=secret("client_secret") if oauth else None,
        refresh_token=(keep.refresh_token if keep is not None else None)
        if form.type == "oauth2_authorization_code" and refresh
        else None,
        scopes=tuple(s for s in form.scopes.replace(",", " ").split() if s) if oauth else (),
        api_key=secret("api_key") if form.type == "api_key" else None,
        api_key_header=form.api_key_header or None if form.type == "api_key" else None,
        api_key_query=form.api_key_query or None if form.type == "api_key" else None,
        username=form.username or None if form.type == "basic" else None,
        password=secret("password") if form.type == "basic" else None,
        hosts=tuple(h.strip() for h in form.hosts.replace(",", " ").split() if h.strip()),
        base_url=form.base_url or None,
        client_auth=form.client_auth,  # type: ignore[arg-type]
    )


def _save_errors(exc: Exception) -> Errors:
    errors = Errors()
    message = str(getattr(exc, "message", None) or exc)
    if "'" in message and message.startswith("Connection '"):
        message = message.split("': ", 1)[-1]
    for key in (
        "token_url",
        "client_id",
        "client_secret",
        "refresh_token",
        "api_key_header",
        "api_key_query",
        "api_key",
        "username",
        "password",
        "hosts",
        "base_url",
    ):
        if key in message:
            if key == "refresh_token":
                message = "Not authorized yet: press Authorize to get a refresh token."
                errors.add("authorize", message)
                return errors
            errors.add(key, message[:1].upper() + message[1:])
            return errors
    if "name" in message:
        errors.add("name", message[:1].upper() + message[1:])
    else:
        errors.add(None, message[:1].upper() + message[1:])
    return errors


@route(router, "/connections/new", ("POST",))
def connection_create(ctx: Ctx) -> Response:
    return _save(ctx, None)


@route(router, "/connections/{name}", ("POST",))
def connection_update(ctx: Ctx, name: str) -> Response:
    fx = _fx(ctx)
    stored = _stored(fx, name)
    if stored is None:
        raise NotFound(f"No connection named {name[:100]} — it may have been deleted.")
    return _save(ctx, stored)


def _save(ctx: Ctx, stored: dict[str, Any] | None) -> Response:
    fx = _fx(ctx)
    form = _form(ctx)
    if stored is not None:
        form.name = stored["name"]
    op = ctx.value("op") or "save"
    if op == "refresh":
        return _form_page(ctx, form, stored)
    errors = Errors()
    if not form.name:
        errors.add("name", 'Name is required: scripts use it as connection: "name".')
    if stored is None and form.name and _stored(fx, form.name) is not None:
        errors.add("name", f"A connection named {form.name} already exists; open it to change it.")
    if errors:
        return _form_page(ctx, form, stored, errors=errors, status=422)
    keep = fx.connections.spec(stored["name"]) if stored is not None else None
    if op == "authorize":
        return _authorize(ctx, form, keep, stored)
    try:
        fx.connections.put(_spec(form, keep))
    except Exception as exc:
        if exc.__class__.__name__ not in ("FunctionsError", "ConnectionConfigError"):
            raise
        return _form_page(ctx, form, stored, errors=_save_errors(exc), status=422)
    return ctx.redirect(f"/connections/{form.name}?done=saved")


def _authorize(ctx: Ctx, form: ConnForm, keep: Any, stored: dict[str, Any] | None) -> Response:
    from floodway.functions.connections import ConnectionConfigError

    errors = Errors()
    if form.type != "oauth2_authorization_code":
        errors.add("type", "Only OAuth2 authorization-code connections are authorized this way.")
    parts = urlsplit(form.authorize_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors.add("authorize_url", "Enter the provider's authorization URL (http or https).")
    spec = _spec(form, keep, refresh=False)
    if not errors:
        # Everything but the refresh token must already be valid.
        try:
            replace(spec, refresh_token="pending").validate()  # noqa: S106 - a placeholder
        except ConnectionConfigError as exc:
            errors = _save_errors(exc)
    if errors:
        return _form_page(ctx, form, stored, errors=errors, status=422)
    state = secrets.token_urlsafe(24)
    redirect_uri = _redirect_uri(ctx)
    lock, pending = _pending(ctx)
    now = time.monotonic()
    with lock:
        for key in [k for k, p in pending.items() if p.expires < now]:
            del pending[key]
        if len(pending) >= PENDING_MAX:
            pending.pop(next(iter(pending)))
        pending[state] = Pending(ctx.viewer.user.id, spec, redirect_uri, now + PENDING_TTL_S)
    query = {
        "response_type": "code",
        "client_id": spec.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "access_type": "offline",
    }
    if spec.scopes:
        query["scope"] = " ".join(spec.scopes)
    sep = "&" if parts.query else "?"
    return ctx.redirect(form.authorize_url + sep + urlencode(query))


@route(router, "/connections/{name}/delete", ("POST",))
def connection_delete(ctx: Ctx, name: str) -> Response:
    fx = _fx(ctx)
    if not fx.connections.delete(name):
        raise NotFound(f"No connection named {name[:100]}.")
    return ctx.redirect("/connections?done=deleted")


@route(router, "/connections/{name}/test", ("POST",))
def connection_test(ctx: Ctx, name: str) -> Response:
    """OAuth2: fetch a token. With a URL: call it with the connection (status, duration)."""
    from floodway.functions.address_policy import OutboundError

    fx = _fx(ctx)
    stored = _stored(fx, name)
    if stored is None:
        raise NotFound(f"No connection named {name[:100]} — it may have been deleted.")
    url = ctx.value("url").strip()[:2000]
    lines: list[str] = []
    ok = True
    started = time.monotonic()
    try:
        auth = fx.connections.authorizer(stored["name"])
        if auth.is_oauth2:
            auth.token()
            lines.append("Token fetched from the token endpoint.")
        if url:
            response = auth.send("GET", url, timeout_s=15.0, max_bytes=256 * 1024)
            lines.append(f"GET {url} → HTTP {response.status}")
            ok = response.status < 400
        elif not auth.is_oauth2:
            lines.append("The stored credentials are complete. Enter a URL to try them.")
    except OutboundError as exc:
        ok = False
        lines.append(str(exc))
    except Exception as exc:
        if exc.__class__.__name__ != "FunctionsError":
            raise
        ok = False
        lines.append(str(getattr(exc, "message", exc)))
    lines.append(f"{(time.monotonic() - started) * 1000:.0f} ms")
    test = {"ok": ok, "lines": lines, "url": url}
    if ctx.is_htmx:
        return ctx.render("connections/_test.html", test=test)
    return _form_page(ctx, _stored_form(stored), stored, test=test)
