"""The outermost ASGI layer: inbound limits (security.md DOS-5) and the catch-all error handler.

Runs before routing, so an oversized, compressed or header-stuffed request is refused before any
route reads it, and any exception a route lets escape becomes Zoho's ``INTERNAL_ERROR`` envelope
while its traceback goes to the server log only (never to the client).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import MB, ApiConfig
from .errors import ZohoError, dumps, internal_error

log = logging.getLogger("floodway.api")
# The request log (security.md SEC-6): method, path, redacted query, status; never bodies.
access_log = logging.getLogger("floodway.api.requests")

_SENSITIVE = re.compile(
    r"(?i)pass|secret|token|api.?key|authorization|cookie|session|signature|code"
)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _size_label(limit: int) -> str:
    return f"{limit // MB}MB" if limit % MB == 0 else f"{limit // 1024}KB"


class RequestGuard:
    def __init__(self, app: ASGIApp, config: ApiConfig) -> None:
        self.app = app
        self.config = config

    def body_limit(self, path: str) -> int:
        if path.endswith("/actions/execute"):
            return self.config.max_function_body_bytes
        if "/attachments" in path.lower():
            return self.config.max_attachment_bytes
        return self.config.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        status = 0
        began = time.perf_counter()

        async def tracking_send(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
            await send(message)

        try:
            refusal, receive = await self._check(scope, receive)
            if refusal is not None:
                await _send_error(tracking_send, refusal)
                return
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path", ""))
            if not started:
                await _send_error(tracking_send, internal_error())
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "method=%s path=%s%s status=%s ms=%.1f",
                    scope.get("method"),
                    scope.get("path", ""),
                    redacted_query(scope.get("query_string", b"")),
                    status,
                    (time.perf_counter() - began) * 1000,
                )

    async def _check(self, scope: Scope, receive: Receive) -> tuple[ZohoError | None, Receive]:
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        size = sum(len(k) + len(v) + 4 for k, v in headers)
        if size > self.config.max_header_bytes:
            return ZohoError(
                "LIMIT_EXCEEDED",
                "request headers are too large",
                431,
                {"limit": _size_label(self.config.max_header_bytes)},
            ), receive
        if scope.get("method") not in _BODY_METHODS:
            return None, receive
        content_length: int | None = None
        for key, value in headers:
            if key == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
                return ZohoError(
                    "NOT_SUPPORTED",
                    "compressed request bodies are not supported; send the body uncompressed",
                    415,
                    {"header": "Content-Encoding"},
                ), receive
            if key == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    content_length = None
        limit = self.body_limit(scope.get("path", ""))
        too_big = ZohoError("LIMIT_EXCEEDED", "limit exceeded", 413, {"limit": _size_label(limit)})
        if content_length is not None and content_length > limit:
            return too_big, receive
        # Buffer the body (at most ``limit`` bytes) so a lying or absent Content-Length cannot
        # stream past the limit, then replay it to the app.
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # Client went away: let the app see the disconnect.
                return None, _replay_once(message, receive)
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                return too_big, receive
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        return None, _replay_once(
            {"type": "http.request", "body": body, "more_body": False}, receive
        )


def redacted_query(raw: bytes) -> str:
    """``?a=1&client_secret=****``: values of secret-looking parameters masked."""
    if not raw:
        return ""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    shown = [f"{quote(k)}={'****' if _SENSITIVE.search(k) else quote(v)}" for k, v in pairs]
    return "?" + "&".join(shown)


def _replay_once(first: Message, receive: Receive) -> Receive:
    done = False

    async def replay() -> Message:
        nonlocal done
        if not done:
            done = True
            return first
        return await receive()

    return replay


async def _send_error(send: Send, error: ZohoError) -> None:
    payload = dumps(error.body())
    headers: list[Any] = [
        (b"content-type", b"application/json;charset=UTF-8"),
        (b"content-length", str(len(payload)).encode()),
    ]
    for k, v in (error.headers or {}).items():
        headers.append((k.lower().encode(), v.encode()))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
