"""Built-in tasks (deluge-language.md §11): ``invokeurl``, ``sendmail``, ``invokeapi``, the legacy
``getUrl``/``postUrl``/``invokeUrl`` functions and ``openUrl``.

This module turns task parameters into host requests and host responses into Deluge values. The
network itself (address policy, redirects, caps) is the host's business (security.md NET).
"""

from __future__ import annotations

import email.message
import re
import urllib.parse
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from .errors import DelugeRuntimeError
from .host import ClientAction, HttpRequest, HttpResponse, Mail
from .values import (
    Collection,
    DelugeList,
    DelugeMap,
    File,
    text_form,
    to_json_text,
    type_name,
)

if TYPE_CHECKING:
    from .runtime import Execution

METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
_TEXTUAL: Final = (
    "text/",
    "application/json",
    "application/xml",
    "application/x-www-form-urlencoded",
)
_ADDRESS: Final = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")
OPEN_URL_TARGETS: Final = frozenset({"new window", "same window", "popup window", "parent window"})


def _text(v: Any, what: str) -> str:
    if type(v) is str:
        return v
    if v is None:
        raise DelugeRuntimeError(f"{what} must be TEXT but was null")
    if type(v) in (int, float, bool):
        return text_form(v)
    raise DelugeRuntimeError(f"{what} must be TEXT but was {type_name(v)}")


def _unwrap(v: Any) -> Any:
    if type(v) is Collection:
        return v.value if v.value is not None else DelugeMap()
    return v


def _form_value(v: Any) -> str:
    v = _unwrap(v)
    if type(v) in (DelugeMap, DelugeList):
        return to_json_text(v)
    return text_form(v)


def _headers(v: Any) -> list[tuple[str, str]]:
    v = _unwrap(v)
    if v is None:
        return []
    if type(v) is not DelugeMap:
        raise DelugeRuntimeError(f"headers must be a MAP but was {type_name(v)}")
    out = []
    for k, val in v.items():
        name, value = text_form(k), text_form(val)
        if any(c in name + value for c in "\r\n\0"):
            raise DelugeRuntimeError(f"Header '{name}' contains a line break")
        out.append((name, value))
    return out


def _files(v: Any) -> list[File]:
    v = _unwrap(v)
    if v is None:
        return []
    if type(v) is File:
        return [v]
    if type(v) is DelugeList and all(type(f) is File for f in v):
        return list(v)
    raise DelugeRuntimeError("files must be a FILE or a LIST of FILE values")


def build_request(
    ctx: Execution,
    url_v: Any,
    method: str,
    data: Any,
    headers: list[tuple[str, str]],
    content_type: str | None,
    files: list[File],
) -> HttpRequest:
    url = _text(url_v, "url")
    method = method.upper()
    if method not in METHODS:
        raise DelugeRuntimeError(f"invokeurl: unsupported type '{method}'")
    data = _unwrap(data)
    req = HttpRequest(
        url=url,
        method=method,
        headers=headers,
        content_type=content_type,
        timeout_s=ctx.limits.invokeurl_timeout_s,
        max_bytes=ctx.limits.invokeurl_download_bytes,
    )
    if type(data) is File:
        files = [data, *files]
        data = None
    if files:
        req.files = files
        if type(data) is DelugeMap:
            req.form = [(text_form(k), _form_value(v)) for k, v in data.items()]
        elif data is not None:
            req.form = [("data", text_form(data))]
        return req
    if data is None:
        return req
    if type(data) is DelugeMap:
        pairs = [(text_form(k), _form_value(v)) for k, v in data.items()]
        if method in ("GET", "DELETE", "HEAD"):
            sep = "&" if "?" in url else "?"
            req.url = url + sep + urllib.parse.urlencode(pairs) if pairs else url
        elif content_type and content_type.lower().startswith("application/json"):
            req.body = to_json_text(data).encode("utf-8", "surrogatepass")
        else:
            req.body = urllib.parse.urlencode(pairs).encode("utf-8", "surrogatepass")
            req.content_type = content_type or "application/x-www-form-urlencoded"
        return req
    text = data if type(data) is str else (_form_value(data))
    req.body = text.encode("utf-8", "surrogatepass")
    req.content_type = content_type or "text/plain;charset=UTF-8"
    return req


def _charset(resp: HttpResponse, forced: str | None) -> str:
    if forced:
        return forced
    ctype = resp.header("content-type")
    if ctype:
        msg = email.message.Message()
        msg["content-type"] = ctype
        cs = msg.get_param("charset")
        if isinstance(cs, str):
            return cs
    return "utf-8"


def response_value(
    ctx: Execution,
    resp: HttpResponse,
    response_format: str | None = None,
    decoding: str | None = None,
    parse: bool = True,
) -> Any:
    """The body as FILE, MAP, LIST or TEXT (§11.1, detection by parsing)."""
    ctype = (resp.header("content-type") or "").split(";")[0].strip().lower()
    fmt = (response_format or "").upper()
    textual = (
        not ctype
        or ctype.startswith(_TEXTUAL)
        or ctype.endswith(("+json", "+xml"))
        or ctype == "application/javascript"
    )
    if fmt == "FILE" or (fmt != "TEXT" and not textual):
        name = _file_name(resp)
        return File(name, resp.body, ctype or "application/octet-stream")
    try:
        text = resp.body.decode(_charset(resp, decoding), "replace")
    except LookupError:
        raise DelugeRuntimeError(f"Unknown response decoding '{decoding}'") from None
    if not parse:
        return text
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        from .jsonparse import JSONSyntaxError, parse_json

        try:
            value = parse_json(stripped, lenient=False, check=ctx.check_deadline)
        except JSONSyntaxError:
            return text
        if type(value) in (DelugeMap, DelugeList):
            return value
    return text


def _file_name(resp: HttpResponse) -> str:
    disp = resp.header("content-disposition")
    if disp:
        msg = email.message.Message()
        msg["content-disposition"] = disp
        fn = msg.get_filename()
        if fn:
            return fn
    path = urllib.parse.urlsplit(resp.url).path
    return path.rsplit("/", 1)[-1] or "file"


def detailed_map(ctx: Execution, resp: HttpResponse, response_text: Any) -> DelugeMap:
    headers = DelugeMap()
    for k, v in resp.headers:
        headers[k.lower()] = v
    m = DelugeMap()
    m["responseCode"] = resp.status
    m["responseHeader"] = headers
    m["responseText"] = response_text
    return m


def invokeurl(ctx: Execution, params: Mapping[str, Any]) -> Any:
    if "url" not in params:
        raise DelugeRuntimeError("invokeurl needs a url")
    if "parameters" in params and "body" in params:
        raise DelugeRuntimeError("invokeurl takes 'parameters' or 'body', not both")
    method = _text(params.get("type", "GET"), "type")
    ctype = params.get("content-type")
    content_type = _text(ctype, "content-type") if ctype is not None else None
    headers = _headers(params.get("headers"))
    if content_type:
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
    else:
        for k, v in headers:
            if k.lower() == "content-type":
                content_type = v
    data = params.get("body", params.get("parameters"))
    req = build_request(
        ctx, params["url"], method, data, headers, content_type, _files(params.get("files"))
    )
    conn = params.get("connection")
    if conn is not None:
        req.connection = _text(conn, "connection")
    resp = ctx.host.http(req)
    fmt = params.get("response-format")
    dec = params.get("response-decoding")
    value = response_value(
        ctx,
        resp,
        text_form(fmt) if fmt is not None else None,
        text_form(dec) if dec is not None else None,
    )
    detailed = params.get("detailed")
    if detailed is not None and type(detailed) is not bool:
        raise DelugeRuntimeError("detailed must be true or false")
    if detailed:
        return detailed_map(ctx, resp, value)
    return value


def _addresses(v: Any, key: str) -> list[str]:
    v = _unwrap(v)
    if v is None:
        return []
    if type(v) is DelugeList:
        items = [text_form(x) for x in v]
    elif type(v) is str:
        items = v.split(",")
    else:
        raise DelugeRuntimeError(f"sendmail: '{key}' must be TEXT or a LIST of TEXT")
    out = []
    for item in items:
        a = item.strip()
        if not a:
            continue
        if not _ADDRESS.match(a) or any(c in a for c in "\r\n"):
            raise DelugeRuntimeError(f"sendmail: invalid address '{a}'")
        out.append(a)
    return out


def sendmail(ctx: Execution, params: Mapping[str, Any]) -> None:
    for key in ("from", "to", "subject"):
        if params.get(key) is None:
            raise DelugeRuntimeError(f"sendmail needs '{key}'")
    sender = _text(params["from"], "from").strip()
    allowed = {ctx.host.admin_user().email.lower(), ctx.host.login_user().email.lower()}
    if sender.lower() not in allowed and not ctx.host.is_sender_allowed(sender):
        raise DelugeRuntimeError("sendmail: from address not allowed")
    to = _addresses(params["to"], "to")
    if not to:
        raise DelugeRuntimeError("sendmail needs at least one 'to' address")
    subject = text_form(params["subject"])
    if any(c in subject for c in "\r\n"):
        raise DelugeRuntimeError("sendmail: the subject contains a line break")
    ctype = text_form(params.get("content-type") or "text/html").lower()
    if ctype not in ("text/html", "text/plain"):
        raise DelugeRuntimeError(
            f"sendmail: content type must be text/html or text/plain, not '{ctype}'"
        )
    mail = Mail(
        sender=sender,
        to=to,
        subject=subject,
        message=text_form(params.get("message")),
        cc=_addresses(params.get("cc"), "cc"),
        bcc=_addresses(params.get("bcc"), "bcc"),
        reply_to=_addresses(params.get("reply to"), "reply to"),
        content_type=ctype,
        attachments=_files(params.get("attachments")),
    )
    ctx.host.send_mail(mail)


def invokeapi(ctx: Execution, params: Mapping[str, Any]) -> Any:
    service = text_form(params.get("service")).lower()
    if service not in ("zohocrm", "crm"):
        raise DelugeRuntimeError(f"invokeapi: service '{service}' is not supported")
    api = getattr(ctx.host, "crm_api", None)  # optional host capability (constant name)
    if api is None:
        raise DelugeRuntimeError("invokeapi is not available in this environment")
    path = _text(params.get("path"), "path")
    method = _text(params.get("type", "GET"), "type").upper()
    data = params.get("body", params.get("parameters"))
    resp = api(method, path, _unwrap(data), _headers(params.get("headers")))
    return response_value(ctx, resp)


def _legacy(ctx: Execution, url: Any, method: str, data: Any, headers: Any, simple: Any) -> Any:
    if simple is None:
        simple = True
    if type(simple) is not bool:
        raise DelugeRuntimeError("the 'simple' argument must be true or false")
    req = build_request(ctx, url, method, data, _headers(headers), None, [])
    resp = ctx.host.http(req)
    if simple:
        return response_value(ctx, resp, parse=False)
    return detailed_map(ctx, resp, response_value(ctx, resp, parse=False))


def get_url(
    ctx: Execution, url: Any = None, headers: Any = None, simple: Any = None, *extra: Any
) -> Any:
    if url is None or extra:
        raise DelugeRuntimeError("'getUrl' takes 1 to 3 arguments")
    return _legacy(ctx, url, "GET", None, headers, simple)


def post_url(
    ctx: Execution,
    url: Any = None,
    data: Any = None,
    headers: Any = None,
    simple: Any = None,
    *extra: Any,
) -> Any:
    if url is None or extra:
        raise DelugeRuntimeError("'postUrl' takes 2 to 4 arguments")
    return _legacy(ctx, url, "POST", data, headers, simple)


def invoke_url_function(
    ctx: Execution,
    url: Any = None,
    method: Any = None,
    data: Any = None,
    headers: Any = None,
    simple: Any = None,
    *extra: Any,
) -> Any:
    if url is None or method is None or extra:
        raise DelugeRuntimeError("'invokeUrl' takes 2 to 5 arguments")
    return _legacy(ctx, url, _text(method, "type"), data, headers, simple)


def open_url(
    ctx: Execution, url: Any = None, target: Any = None, option: Any = None, *extra: Any
) -> None:
    if url is None or target is None or extra:
        raise DelugeRuntimeError("'openUrl' takes 2 or 3 arguments")
    t = _text(target, "target").lower()
    if t not in OPEN_URL_TARGETS:
        raise DelugeRuntimeError(f"openUrl: unsupported target '{text_form(target)}'")
    action = ClientAction(_text(url, "url"), t)
    ctx.client_actions.append(action)
    ctx.host.open_url(action)


TASK_BLOCKS: Final[Mapping[str, Callable[[Execution, Mapping[str, Any]], Any]]] = MappingProxyType(
    {"invokeurl": invokeurl, "sendmail": sendmail, "invokeapi": invokeapi}
)
LEGACY_FUNCTIONS: Final[Mapping[str, Callable[..., Any]]] = MappingProxyType(
    {"geturl": get_url, "posturl": post_url, "invokeurl": invoke_url_function, "openurl": open_url}
)
