"""``invokeurl`` to the Zoho CRM API served by floodway's own REST API, in process
(deluge-language.md §12.8, D-34): scripts written for Zoho's API run unchanged, no socket opens.

The request goes through the same ASGI application as an outside call: routing, lenient
parsing, validation, record-change events, error envelopes. The caller is the execution's
run-as user with every scope and full rights (functions are not limited by the run-as user's
profile, functions-platform.md §1). That principal travels in the ASGI scope's ``state``, which
only code in this process can set: an HTTP request cannot reach it.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import TYPE_CHECKING, Any, Final

from floodway.crm.oauth import ALL_SCOPES, Principal, _scope_set
from floodway.crm.users import ADMINISTRATOR
from floodway.deluge.errors import DelugeRuntimeError
from floodway.deluge.host import HttpResponse

if TYPE_CHECKING:
    from floodway.functions.live_host import InProcessRequest

MAX_RESPONSE_BYTES: Final = 15 * 1024 * 1024  # Zoho's download cap for its own domains


class InProcessCrmApi:
    """``Functions.in_process_api``: one CRM API request as the running user."""

    def __init__(self, app: Any, crm: Any) -> None:
        self.app = app
        self.crm = crm

    def __call__(self, req: InProcessRequest) -> HttpResponse:
        user = self.crm.users.get(req.user_id)
        if user is None:
            raise DelugeRuntimeError("invokeurl: the running user no longer exists")
        profile = self.crm.users.profile_named(ADMINISTRATOR) or self.crm.users.profile(user)
        principal = Principal(
            user, profile, _scope_set(" ".join(ALL_SCOPES)), None, "function", req.chain
        )
        return asyncio.run(self._call(req, principal))

    async def _call(self, req: InProcessRequest, principal: Principal) -> HttpResponse:
        url = urllib.parse.urlsplit(req.request.url)
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in req.request.headers
        ]
        headers = [(k, v) for k, v in headers if k not in (b"authorization", b"content-length")]
        body = req.request.body or b""
        if req.request.content_type:
            headers = [(k, v) for k, v in headers if k != b"content-type"]
            headers.append((b"content-type", req.request.content_type.encode("latin-1")))
        headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": req.request.method.upper(),
            "scheme": "https",
            "path": urllib.parse.unquote(url.path),
            "raw_path": url.path.encode(),
            "query_string": url.query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": ("floodway.internal", 443),
            "state": {"principal": principal},
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 500
        out_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        size = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, out_headers, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
                out_headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]
                ]
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise DelugeRuntimeError("Response exceeds 15 MB")
                chunks.append(chunk)

        await self.app(scope, receive, send)
        return HttpResponse(status, out_headers, b"".join(chunks), req.request.url)
