"""A function's settings tab (console-ux.md §3.7 "Settings tab"): display name, description,
time limit, and REST exposure with the endpoint URLs and copyable ``curl`` examples.

REST exposure is off by default and switching it needs ``manage_functions`` (security.md AZ-4).
The org API key is write-only in pages (SEC-4): URLs and examples show ``$ZAPIKEY`` until the
user enters their password again ("Show key"), and that answer is never cached.
"""

from __future__ import annotations

import json
import shlex
from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter
from starlette.responses import Response

from .functions_pages import function_or_404, fx_for
from .http import Ctx, route

router = APIRouter()

API_VERSION: Final = "v7"
KEY_PLACEHOLDER: Final = "$ZAPIKEY"
OAUTH_PLACEHOLDER: Final = "$TOKEN"
KEY_REFUSED: Final = "That password is not right; the key stays hidden."


@route(router, "/functions/{api_name}/settings")
def settings_page(ctx: Ctx, api_name: str) -> Response:
    fx = fx_for(ctx)
    info = function_or_404(fx, api_name)
    return _page(ctx, info)


@route(router, "/functions/{api_name}/settings", ("POST",))
def save_settings(ctx: Ctx, api_name: str) -> Response:
    fx = fx_for(ctx)
    info = function_or_404(fx, api_name)
    typed = {k: ctx.value(k) for k in ("display_name", "description", "timeout_s", "rest_auth")}
    fields: dict[str, Any] = {
        "display_name": typed["display_name"],
        "description": typed["description"],
        "rest_enabled": ctx.value("rest_enabled") == "on",
        "rest_auth": typed["rest_auth"] or "any",
    }
    errors: dict[str, str] = {}
    timeout = typed["timeout_s"].strip()
    if timeout:
        try:
            fields["timeout_s"] = float(timeout)
        except ValueError:
            errors["timeout_s"] = "Time limit: enter a number of seconds, or leave it empty."
    else:
        fields["timeout_s"] = None
    if not errors:
        try:
            info = fx.registry.update(info.api_name, **fields)
        except Exception as exc:
            if getattr(exc, "code", None) != "INVALID_DATA":
                raise
            field = str((getattr(exc, "details", {}) or {}).get("field") or "display_name")
            errors[field] = _sentence(str(exc.message))  # type: ignore[attr-defined]
    if errors:
        return _page(ctx, info, typed=typed, errors=errors, status=422)
    return ctx.redirect(ctx.url(f"/functions/{info.api_name}/settings", done="saved"))


@route(router, "/functions/{api_name}/settings/key", ("POST",))
def show_key(ctx: Ctx, api_name: str) -> Response:
    """The REST examples with the real key, after the password is entered again (SEC-4)."""
    fx = fx_for(ctx)
    info = function_or_404(fx, api_name)
    viewer = ctx.viewer
    if ctx.crm.users.verify_password(viewer.user.email, ctx.value("password")) is None:
        return _page(ctx, info, errors={"password": KEY_REFUSED}, status=422)
    sealer = getattr(ctx.app.state, "sealer", None)
    key = ctx.crm.oauth.api_key(sealer) if sealer is not None else None
    if key is None:
        return _page(
            ctx,
            info,
            errors={"password": "There is no API key to show: rotate one in Settings › API key."},
            status=422,
        )
    return _page(ctx, info, key=key)


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def base_url(ctx: Ctx) -> str:
    """Where REST callers reach this server: ``public_url`` when set, else this request's."""
    public = getattr(ctx.settings, "public_url", None)
    if public:
        return str(public).rstrip("/")
    return f"{ctx.request.url.scheme}://{ctx.request.url.netloc}"


def rest_examples(base: str, info: Any, key: str | None) -> dict[str, str]:
    """Endpoint URLs and ``curl`` lines for the function, with sample arguments."""
    endpoint = f"{base}/crm/{API_VERSION}/functions/{quote(info.api_name)}/actions/execute"
    shown_key = key or KEY_PLACEHOLDER
    sample = {name: _sample(kind) for name, kind in info.arguments}
    arguments = json.dumps(sample, separators=(",", ":"))
    key_url = f"{endpoint}?auth_type=apikey&zapikey={shown_key}"
    get_url = key_url + (f"&arguments={quote(arguments)}" if sample else "")

    def shell(url: str) -> str:
        # A real key is quoted like any value; the placeholder stays expandable by the shell
        # (URL-encoded arguments hold nothing else a double-quoted string would expand).
        return shlex.quote(url) if key else f'"{url}"'

    examples = {
        "apikey_url": key_url,
        "oauth_url": endpoint,
        "curl_get": f"curl {shell(get_url)}",
        "curl_post": (
            f"curl -X POST {shell(key_url)} \\\n"
            f"  --data-urlencode {shlex.quote('arguments=' + arguments)}"
        ),
        "curl_oauth": (
            f"curl -X POST {shlex.quote(endpoint)} \\\n"
            f'  -H "Authorization: Zoho-oauthtoken {OAUTH_PLACEHOLDER}" \\\n'
            f"  --data-urlencode {shlex.quote('arguments=' + arguments)}"
        ),
    }
    return examples


def _sample(kind: str | None) -> Any:
    k = (kind or "string").lower()
    if k in ("int", "long", "bigint", "integer", "number"):
        return 1
    if k in ("decimal", "float", "double"):
        return 1.5
    if k in ("bool", "boolean"):
        return True
    if k == "map":
        return {}
    if k in ("list", "collection"):
        return []
    return "text"


def _page(
    ctx: Ctx,
    info: Any,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    key: str | None = None,
    status: int = 200,
) -> Response:
    fx = ctx.functions
    limits = fx.executor.limits_for(info)
    values = typed or {
        "display_name": info.display_name,
        "description": info.description,
        "timeout_s": "" if info.timeout_s is None else f"{info.timeout_s:g}",
        "rest_auth": info.rest_auth,
    }
    response = ctx.render(
        "functions/settings.html",
        status=status,
        info=info,
        values=values,
        errors=errors or {},
        limits=limits,
        examples=rest_examples(base_url(ctx), info, key),
        key_shown=key is not None,
        tab="settings",
        toast="Settings saved" if ctx.value("done") == "saved" else None,
    )
    if key is not None:
        response.headers["Cache-Control"] = "no-store"
    return response
