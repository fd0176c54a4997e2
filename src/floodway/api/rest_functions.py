"""REST functions: ``GET|POST /crm/{v}/functions/{api_name}/actions/execute``.

zoho-rest-compat.md §9 and functions-platform.md §2.7. One request:

1. the version segment (§3.2) and the method (GET/POST, else ``INVALID_REQUEST_METHOD``);
2. the body (≤ 1 MB, enforced by ``RequestGuard``) and its form or JSON values;
3. authentication (§9.2): ``auth_type=apikey&zapikey=K`` (the org API key, throttled on failure
   per client address) or ``auth_type=oauth`` with a token holding the function execute scope of
   the method; an absent ``auth_type`` is ``apikey`` when ``zapikey`` is given, else ``oauth``;
4. the function: unknown, unpublished or not REST-enabled -> 404 ``INVALID_URL_PATTERN``; a
   function with ``rest_auth = "oauth"`` refuses API-key calls (security.md AZ-4);
5. the arguments (§9.3): an ``arguments`` map (JSON, or the Python-literal dict the v8 SDK sends)
   wins over separate query/form parameters, which win over the top-level keys of a JSON body;
   names match declared arguments exactly, then case-insensitively; ``crmAPIRequest`` receives
   the request description whatever the caller sent;
6. the run — the API key check, the function lookup, binding and the run share one trip to a
   worker thread, at most ``rest_function_concurrency`` (default 8) at once per process, the
   others queued in arrival order — recorded as an execution with trigger
   ``{"type": "rest", "auth_type": …}``, and the response: Zoho's success envelope, a ``crmAPIResponse`` passthrough (§9.5, with the AUTH-11
   headers), or an error of §9.6 carrying the execution id (HTTP 400, never 5xx: some clients
   retry 5xx, repeating a function's side effects).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Final
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from fastapi import APIRouter
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from .auth import authenticate, client_address, too_many
from .common import check_version
from .errors import (
    JSON_TYPE,
    ZohoError,
    authentication_failure,
    dumps,
    invalid_method,
    invalid_param,
    invalid_url,
    json_response,
    scope_mismatch,
)
from .functions import service
from .parsing import first_values, parse_json

router = APIRouter()

CRM_API_REQUEST: Final = "crmAPIRequest"
CRM_API_RESPONSE: Final = "crmAPIResponse"
SUCCESS_MESSAGE: Final = "function executed successfully"

# Parameters that address the endpoint rather than the function (§9.3 form 2).
_RESERVED: Final = frozenset({"auth_type", "zapikey", "arguments"})
# security.md SEC-5: never shown to a function.
_HIDDEN_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization", "zapikey"})
# security.md AUTH-11: headers a crmAPIResponse may not set.
_FORBIDDEN_RESPONSE_HEADERS: Final = frozenset(
    {
        "set-cookie",
        "set-cookie2",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "content-security-policy",
        "content-security-policy-report-only",
        "strict-transport-security",
        "x-content-type-options",
        "content-type",
    }
)
_SAFE_RESPONSE_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}
_TOKEN_CHARS: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CONTENT_TYPE_KEYS: Final = ("Content-Type", "content_type", "content-type")
_ARGUMENT_ERROR: Final = re.compile(r"^Cannot convert .* for argument '(?P<name>.+)'$", re.S)
TEXT_TYPE: Final = "text/plain;charset=UTF-8"
_MAX_LITERAL_ITEMS: Final = 100_000
DEFAULT_CONCURRENCY: Final = 8


# ---- the route ------------------------------------------------------------------------------


@router.api_route(
    "/crm/{version}/functions/{api_name}/actions/execute",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
async def execute(request: Request, version: str, api_name: str) -> Response:
    check_version(version)
    method = request.method.upper()
    if method not in ("GET", "POST"):
        raise invalid_method()
    state = request.app.state
    query = list(request.query_params.multi_items())
    form, body = await _read_body(request, state.config.max_json_depth)
    params = first_values([*query, *form])
    auth_type = _auth_type(params)
    call = _Call(request, method, auth_type, query, form, body, params)
    if auth_type == "oauth":
        call.principal = await authenticate(request)
        if not call.principal.allows("execute_get" if method == "GET" else "execute_post"):
            raise scope_mismatch()
    else:
        key = params.get("zapikey")
        if key is None or not key.strip() or len(key) > 512:
            await _throttle_failure(request)
            raise authentication_failure({"auth_type": "apikey"})
        call.zapikey = key
    # One trip to the thread pool: API key check, function lookup, binding and the run.
    try:
        result = await anyio.to_thread.run_sync(
            _run, call, service(request), api_name, limiter=_limiter(state)
        )
    except _BadKey:
        await _throttle_failure(request)
        raise authentication_failure({"auth_type": "apikey"}) from None
    return _respond(result, str(call.principal.user.id), call.live)


def _limiter(state: Any) -> anyio.CapacityLimiter:
    """At most ``rest_function_concurrency`` REST executions run at once in this process
    (default 8); the others wait their turn in arrival order (security.md DOS-1). Fewer
    threads competing for the interpreter keep the latency tail short; a function waiting on
    ``invokeurl`` holds its slot, so the limit is not set lower."""
    limiter = getattr(state, "rest_function_limiter", None)
    if limiter is None:
        value = getattr(state.settings, "rest_function_concurrency", None)
        slots = DEFAULT_CONCURRENCY if value is None else max(1, int(value))
        limiter = anyio.CapacityLimiter(slots)
        state.rest_function_limiter = limiter
    return limiter


class _BadKey(Exception):
    """The API key is wrong or was rotated."""


class _Call:
    """One execute request, as the worker thread needs it."""

    __slots__ = (
        "auth_type",
        "body",
        "crm",
        "form",
        "headers",
        "hidden",
        "limiter",
        "live",
        "max_depth",
        "method",
        "params",
        "principal",
        "query",
        "zapikey",
    )

    def __init__(
        self,
        request: Request,
        method: str,
        auth_type: str,
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
        body: _Body,
        params: dict[str, str],
    ) -> None:
        state = request.app.state
        self.method = method
        self.auth_type = auth_type
        self.query = query
        self.form = form
        self.body = body
        self.params = params
        self.headers = request.headers.items()
        hidden = set(_HIDDEN_HEADERS)
        for name in getattr(state.settings, "sensitive_headers", None) or ():
            hidden.add(str(name).lower())
        self.hidden = hidden
        self.max_depth = state.config.max_json_depth
        self.limiter = state.limiter
        self.crm = state.crm
        self.principal: Any = None
        self.zapikey: str | None = None
        self.live: Any = None


def _run(call: _Call, fx: Any, api_name: str) -> Any:
    """In a worker thread: authenticate an API key, find the function, bind, run."""
    if call.principal is None:
        principal = call.crm.oauth.check_api_key(call.zapikey)
        if principal is None:
            raise _BadKey
        if call.limiter.enabled:  # DOS-2: a bucket per API key
            assert call.zapikey is not None
            decision = call.limiter.take(
                "key:" + hashlib.sha256(call.zapikey.encode()).hexdigest()[:32]
            )
            if not decision.allowed:
                raise too_many(decision.headers())
        call.principal = principal
    live = _live(fx, api_name)
    if live is None or not getattr(live.function, "rest_enabled", False):
        raise invalid_url()
    if call.auth_type == "apikey" and getattr(live.function, "rest_auth", "any") == "oauth":
        raise ZohoError(
            "AUTHENTICATION_FAILURE",
            "this function accepts OAuth tokens only",
            401,
            {"auth_type": "apikey"},
        )
    call.live = live
    declared = _declared(live)
    named = _named_values(call.query, call.form, call.body, call.max_depth)
    arguments = _bind(named, declared)
    if any(name == CRM_API_REQUEST for name, _ in declared):
        arguments[CRM_API_REQUEST] = _request_map(call)
    return fx.executor.run(
        live,
        arguments,
        user_id=str(call.principal.user.id),
        trigger={"type": "rest", "auth_type": call.auth_type},
    )


def _live(fx: Any, api_name: str) -> Any:
    if not api_name or len(api_name) > 200:
        return None
    try:
        return fx.registry.live(api_name)
    except Exception as exc:  # NOT_FOUND and friends: the URL names no callable function
        if getattr(exc, "code", None) == "NOT_FOUND":
            return None
        raise


def _declared(live: Any) -> list[tuple[str, str]]:
    program = getattr(live, "program", None)
    params = getattr(program, "params", None)
    if params is not None:
        return list(params)
    return [(a["name"], a.get("type", "")) for a in live.function.to_json().get("arguments", [])]


# ---- authentication (§9.2) --------------------------------------------------------------------


def _auth_type(params: dict[str, str]) -> str:
    """``apikey`` or ``oauth``; absent: ``apikey`` when a ``zapikey`` is given."""
    raw_type = params.get("auth_type")
    if raw_type is None or not raw_type.strip():
        return "apikey" if params.get("zapikey") is not None else "oauth"
    auth_type = raw_type.strip().lower()
    if auth_type not in ("apikey", "oauth"):
        raise invalid_param("auth_type")
    return auth_type


async def _throttle_failure(request: Request) -> None:
    """AUTH-6: failing API keys are throttled per client address."""
    limiter = request.app.state.limiter
    if limiter.enabled:
        decision = limiter.take("fail:" + client_address(request))
        if not decision.allowed:
            raise too_many(decision.headers())


# ---- the request: form values, JSON body, arguments (§9.3) ----------------------------------


class _Body:
    """What the body holds: ``json`` (parsed, or None) and ``text`` (raw TEXT, "" when absent)."""

    __slots__ = ("is_json", "json", "text")

    def __init__(self, text: str = "", value: Any = None, is_json: bool = False) -> None:
        self.text = text
        self.json = value
        self.is_json = is_json


_NO_BODY: Final = _Body()


async def _read_body(request: Request, max_depth: int) -> tuple[list[tuple[str, str]], _Body]:
    """Form fields (first values kept by the caller) and the body of a POST."""
    if request.method.upper() != "POST":
        return [], _NO_BODY
    raw = await request.body()
    if not raw.strip():
        return [], _NO_BODY
    content_type = request.headers.get("content-type", "").lower()
    if "multipart/form-data" in content_type:
        fields: list[tuple[str, str]] = []
        try:
            form = await request.form(max_files=1000, max_fields=1000)
        except Exception:
            raise ZohoError("INVALID_DATA", "the multipart body is malformed", 400) from None
        for key, value in form.multi_items():
            if not isinstance(value, UploadFile):  # file parts are not passed (first release)
                fields.append((key, value))
        return fields, _Body()
    text = raw.decode("utf-8", errors="replace")
    if "application/x-www-form-urlencoded" in content_type:
        return parse_qsl(text, keep_blank_values=True), _Body(text)
    try:
        value = parse_json(raw, max_depth)
    except ZohoError as exc:
        if exc.code == "INVALID_DATA" and "json" not in content_type:
            return [], _Body(text)  # not JSON, and not claimed to be: the body is TEXT
        raise
    return [], _Body(text, value, True)


def _arguments_map(text: str, max_depth: int) -> dict[Any, Any]:
    """An ``arguments`` value: JSON object text, else a Python-literal dict (never evaluated)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = _python_literal(text, max_depth)
    if not isinstance(value, dict):
        raise invalid_param("arguments")
    return value


def _python_literal(text: str, max_depth: int) -> Any:
    from ..deluge.jsonparse import parse_python_literal

    try:
        return parse_python_literal(text, max_depth=max_depth, max_items=_MAX_LITERAL_ITEMS)
    except Exception:  # syntax, depth or size: all "invalid data" for this parameter
        raise invalid_param("arguments") from None


def _named_values(
    query: list[tuple[str, str]],
    form: list[tuple[str, str]],
    body: _Body,
    max_depth: int,
) -> list[dict[Any, Any]]:
    """Named values by source, lowest precedence first: body keys, separate parameters,
    ``arguments`` maps (query, then form, then a body ``{"arguments": …}``)."""
    body_keys: dict[Any, Any] = {}
    maps: list[dict[Any, Any]] = []
    if body.is_json and isinstance(body.json, dict):
        value = body.json
        if len(value) == 1 and "arguments" in value:
            inner = value["arguments"]
            if isinstance(inner, str):
                maps.append(_arguments_map(inner, max_depth))
            elif isinstance(inner, dict):
                maps.append(inner)
            else:
                raise invalid_param("arguments")
        else:
            body_keys = value
    separate: dict[Any, Any] = {}
    query_maps: list[dict[Any, Any]] = []
    for source in (query, form):
        seen: set[str] = set()
        for key, value in source:
            if key in seen:  # a parameter given twice uses its first value (§3.4)
                continue
            seen.add(key)
            if key == "arguments":
                if value.strip():
                    query_maps.append(_arguments_map(value, max_depth))
            elif key not in _RESERVED:
                separate[key] = value
    return [body_keys, separate, *query_maps, *maps]


def _bind(sources: list[dict[Any, Any]], declared: list[tuple[str, str]]) -> dict[str, Any]:
    """Values for the declared arguments: exact names first, then case-insensitive, each
    source overriding the ones before it. Without declared arguments (bare scripts) every
    named value is passed and the executor picks what the script reads."""
    merged: dict[str, Any] = {}
    for source in sources:
        for key, value in source.items():
            merged[str(key)] = value
    if not declared:
        merged.pop(CRM_API_REQUEST, None)
        return merged
    lowered: dict[str, Any] = {}
    for source in sources:
        for key, value in source.items():
            lowered[str(key).lower()] = value
    out: dict[str, Any] = {}
    for name, _type in declared:
        if name == CRM_API_REQUEST:
            continue
        if name in merged:
            out[name] = merged[name]
        elif name.lower() in lowered:
            out[name] = lowered[name.lower()]
    return out


def _request_map(call: _Call) -> dict[str, Any]:
    """``crmAPIRequest`` (functions-platform.md §2.7), secrets left out (SEC-5)."""
    headers: dict[str, str] = {}
    for key, value in call.headers:
        name = key.lower()
        if name in call.hidden:
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    user = call.principal.user
    body = call.body
    return {
        "http_method": call.method,
        "params": {k: v for k, v in call.params.items() if k != "zapikey"},
        "headers": headers,
        "body": body.json if body.is_json else body.text,
        "user": {"id": str(user.id), "name": user.full_name, "email": user.email},
        "auth_type": call.auth_type,
    }


# ---- the response (§9.5, §9.6) -----------------------------------------------------------------


def _respond(result: Any, user_id: str, live: Any) -> Response:
    if result.status != "success":
        raise _failure(result, live)
    passthrough = _passthrough(result.value)
    if passthrough is not None:
        try:
            return _passthrough_response(passthrough)
        except _BadResponse as exc:
            raise ZohoError(
                "INTERNAL_ERROR",
                str(exc),
                400,
                {"kind": "runtime", "execution_id": result.id},
            ) from None
    output_type = "string" if result.return_type is None else (result.output_type or "string")
    return json_response(
        {
            "code": "success",
            "details": {
                "output": result.output_text or "",
                "output_type": output_type,
                "id": user_id,
                "userMessage": [],
            },
            "message": SUCCESS_MESSAGE,
        }
    )


def _failure(result: Any, live: Any) -> ZohoError:
    error = result.error or {}
    kind = error.get("kind") or "runtime"
    message = str(error.get("message") or "The function failed")
    details: dict[str, Any] = {"kind": kind}
    if kind == "limit":
        code = "LIMIT_REACHED"
    else:
        name = _argument_failure(error, message, live)
        if name is not None:
            return ZohoError(
                "INVALID_DATA", message, 400, {"api_name": name, "execution_id": result.id}
            )
        code = "INTERNAL_ERROR"
    details["line"] = error.get("line")
    details["column"] = error.get("column")
    details["execution_id"] = result.id
    return ZohoError(code, message, 400, details)


def _argument_failure(error: dict[str, Any], message: str, live: Any) -> str | None:
    """The argument whose conversion failed before the first statement (§13.2), or None.

    The engine reports it at the argument's position in the header; the same message raised
    later (a wrong argument to a ``standalone.x`` call) is an ordinary runtime error.
    """
    match = _ARGUMENT_ERROR.match(message)
    if match is None:
        return None
    name = match.group("name")
    program = getattr(live, "program", None)
    params = list(getattr(program, "params", None) or ())
    positions = list(getattr(program, "param_positions", None) or ())
    for (declared, _type), position in zip(params, positions):
        if declared == name:
            where = (error.get("line"), error.get("column"))
            return name if where == tuple(position) or where == (None, None) else None
    return None


class _BadResponse(Exception):
    """A crmAPIResponse that cannot become an HTTP response."""


def _passthrough(value: Any) -> Any:
    """The ``crmAPIResponse`` map of a return value (a MAP, or TEXT holding its JSON), or None."""
    value = _unwrap(value)
    if isinstance(value, str) and CRM_API_RESPONSE in value:
        stripped = value.strip()
        if not stripped.startswith("{"):
            return None
        from ..deluge.jsonparse import parse_json as parse_deluge_json

        try:
            value = parse_deluge_json(stripped, lenient=False)
        except Exception:
            return None
    if isinstance(value, dict):
        inner = _unwrap(value.get(CRM_API_RESPONSE))
        return inner if isinstance(inner, dict) else None
    return None


def _unwrap(value: Any) -> Any:
    """The MAP or LIST inside an untyped ``Collection`` (``{}`` in Deluge); else the value."""
    from ..deluge.values import Collection, DelugeMap

    if isinstance(value, Collection):
        return value.value if value.value is not None else DelugeMap()
    return value


def _passthrough_response(spec: dict[Any, Any]) -> Response:
    from ..deluge.values import DelugeList, DelugeMap, text_form, to_json_text

    status = _status_code(spec.get("status_code"))
    body = _unwrap(spec.get("body"))
    is_json = isinstance(body, (DelugeMap, DelugeList, dict, list))
    if body is None:
        payload = b""
    elif isinstance(body, (DelugeMap, DelugeList)):
        payload = to_json_text(body).encode("utf-8")
    elif is_json:
        payload = dumps(body)
    else:
        payload = _text(body, text_form).encode("utf-8")
    content_type = None
    for key in _CONTENT_TYPE_KEYS:
        if spec.get(key) is not None:
            content_type = _text(spec[key], text_form)
            break
    if content_type is None:
        content_type = JSON_TYPE if is_json else TEXT_TYPE
    headers: dict[str, str] = {}
    extra = spec.get("headers")
    if isinstance(extra, dict):
        for key, value in extra.items():
            name = _text(key, text_form).strip()
            text = "" if value is None else _text(value, text_form)
            if (
                not _TOKEN_CHARS.match(name)
                or name.lower() in _FORBIDDEN_RESPONSE_HEADERS
                or any(ch in text for ch in "\r\n\0")
            ):
                continue  # AUTH-11: dropped, never sent
            headers[name] = text
    if any(ch in content_type for ch in "\r\n\0"):
        content_type = TEXT_TYPE
    headers.update(_SAFE_RESPONSE_HEADERS)
    if status < 200 or status in (204, 304):
        payload = b""
    response = Response(payload, status_code=status, headers=headers)
    if payload or status not in (204, 304):
        response.headers["content-type"] = content_type
    return response


def _status_code(value: Any) -> int:
    if value is None:
        return 200
    if isinstance(value, bool):
        raise _BadResponse("crmAPIResponse status_code must be a number between 100 and 599")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not 100 <= value <= 599:
        raise _BadResponse("crmAPIResponse status_code must be a number between 100 and 599")
    return value


def _text(value: Any, text_form: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return str(text_form(value))
    except TypeError:  # a plain (non-Deluge) value
        return json.dumps(value) if isinstance(value, (dict, list)) else str(value)
