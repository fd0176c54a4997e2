"""Connections end to end against a fake OAuth2 token server on loopback (NET-7, §7).

Three real HTTP listeners on 127.0.0.1: a token endpoint, an API that accepts only the
tokens it was told are valid, and a recorder on another port (another origin) that keeps the
headers of every request it gets. All are allow-listed by their exact ``127.0.0.1:PORT``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from floodway.functions.address_policy import AddressPolicy, OutboundRefused
from floodway.functions.connections import (
    CachedToken,
    ConnectionAuthorizer,
    ConnectionConfigError,
    ConnectionRefused,
    ConnectionSpec,
    MemoryTokenCache,
    TokenRequestFailed,
    connection_does_not_exist,
)
from floodway.functions.outbound import OutboundClient
from floodway.functions.redact import redact

CLIENT_ID = "client-123"
CLIENT_SECRET = "cs-very-secret-0001"
REFRESH = "rt-initial-0001"


class Server:
    """A threaded HTTP server on 127.0.0.1 with a per-test request handler."""

    def __init__(self, handle: Any) -> None:
        outer = self
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
                with outer.lock:
                    outer.requests.append(request)
                status, headers, payload = handle(request)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port: int = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class TokenEndpoint:
    """A fake OAuth2 token endpoint (client credentials and refresh-token grants)."""

    def __init__(self) -> None:
        self.issued = 0
        self.expires_in: int | None = 3600
        self.fail: tuple[int, dict[str, Any]] | None = None
        self.refresh_tokens = {REFRESH}
        self.rotate_refresh = False
        self.delay_s = 0.0
        self.valid: set[str] = set()  # tokens the API accepts
        self.raw_response: tuple[int, list[tuple[str, str]], bytes] | None = None
        self.elsewhere = ""
        self.server = Server(self.handle)

    @property
    def url(self) -> str:
        return f"{self.server.base}/oauth/token"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.server.requests

    def handle(self, request: dict[str, Any]) -> tuple[int, list[tuple[str, str]], Any]:
        if self.delay_s:
            time.sleep(self.delay_s)
        if request["path"].startswith("/moved"):
            return 307, [("Location", self.elsewhere)], b""
        if self.raw_response is not None:
            return self.raw_response
        if self.fail is not None:
            return self.fail[0], [("Content-Type", "application/json")], self.fail[1]
        form = {k: v[0] for k, v in parse_qs(request["body"].decode()).items()}
        auth = request["headers"].get("authorization", "")
        if auth.startswith("Basic "):
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            cid, secret = form.get("client_id", ""), form.get("client_secret", "")
        if (cid, secret) != (CLIENT_ID, CLIENT_SECRET):
            return 401, [], {"error": "invalid_client"}
        payload: dict[str, Any] = {"token_type": "Bearer"}
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return 400, [], {"error": "invalid_grant", "error_description": "revoked"}
            if self.rotate_refresh:
                self.refresh_tokens = {f"rt-rotated-{self.issued + 1:04d}"}
                payload["refresh_token"] = next(iter(self.refresh_tokens))
        elif form.get("grant_type") != "client_credentials":
            return 400, [], {"error": "unsupported_grant_type"}
        self.issued += 1
        token = f"at-{self.issued:04d}-{'x' * 12}"
        self.valid = {token}  # a new token replaces the old one
        payload["access_token"] = token
        if self.expires_in is not None:
            payload["expires_in"] = self.expires_in
        return 200, [("Content-Type", "application/json")], payload


@pytest.fixture
def token_server() -> Iterator[TokenEndpoint]:
    ts = TokenEndpoint()
    yield ts
    ts.server.close()


@pytest.fixture
def recorder() -> Iterator[Server]:
    srv = Server(lambda request: (200, [], {"recorded": True}))
    yield srv
    srv.close()


@pytest.fixture
def api(token_server: TokenEndpoint, recorder: Server) -> Iterator[Server]:
    state = {"always_401": False}

    def handle(request: dict[str, Any]) -> tuple[int, list[tuple[str, str]], Any]:
        path = request["path"]
        if path.startswith("/redirect"):
            return 302, [("Location", f"{recorder.base}/landed")], b""
        if path.startswith("/open"):
            return 200, [], {"headers": request["headers"]}
        auth = request["headers"].get("authorization", "")
        key = request["headers"].get("x-api-key")
        query = parse_qs(urlsplit(path).query)
        ok = (
            (auth.startswith("Bearer ") and auth[7:] in token_server.valid)
            or key == "k-abcdef-123"
            or query.get("api_key") == ["k-abcdef-123"]
            or auth == "Basic " + base64.b64encode(b"bob:pw-0123456").decode()
        )
        if state["always_401"] or not ok:
            return 401, [("WWW-Authenticate", "Bearer")], {"error": "unauthorized"}
        return 200, [], {"ok": True}

    srv = Server(handle)
    srv.state = state  # type: ignore[attr-defined]
    yield srv
    srv.close()


@pytest.fixture
def client(token_server: TokenEndpoint, api: Server, recorder: Server) -> Iterator[OutboundClient]:
    policy = AddressPolicy([f"127.0.0.1:{s.port}" for s in (token_server.server, api, recorder)])
    with OutboundClient(policy) as c:
        yield c


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def cc_spec(token_server: TokenEndpoint, **kw: Any) -> ConnectionSpec:
    return ConnectionSpec(
        name="billing",
        type="oauth2_client_credentials",
        token_url=token_server.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        **kw,
    )


def form_of(request: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request["body"].decode()).items()}


# -- client credentials ------------------------------------------------------------------------


def test_client_credentials_token_is_fetched_once_and_cached(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    auth = ConnectionAuthorizer(cc_spec(token_server, scopes=("read", "write")), client)
    creds = auth.credentials_for(f"{api.base}/data")
    assert creds == [("Authorization", "Bearer at-0001-xxxxxxxxxxxx")]
    assert auth.credentials_for(f"{api.base}/other") == creds
    assert len(token_server.requests) == 1
    request = token_server.requests[0]
    assert request["method"] == "POST"
    assert request["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {
        "grant_type": "client_credentials",
        "scope": "read write",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    response = auth.send("GET", f"{api.base}/data")
    assert response.status == 200
    assert len(token_server.requests) == 1


def test_client_auth_basic_sends_secret_in_header_only(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    auth = ConnectionAuthorizer(cc_spec(token_server, client_auth="basic"), client)
    auth.credentials_for(api.base)
    request = token_server.requests[0]
    assert "client_secret" not in form_of(request)
    assert CLIENT_SECRET.encode() not in request["body"]
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert request["headers"]["authorization"] == f"Basic {expected}"


def test_token_expiry_with_fake_clock(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    clock = FakeClock()
    token_server.expires_in = 100
    auth = ConnectionAuthorizer(cc_spec(token_server), client, clock, refresh_margin_s=60)
    first = auth.credentials_for(api.base)
    clock.now += 49  # margin is min(60, lifetime / 2) = 50 s before expiry
    assert auth.credentials_for(api.base) == first
    assert len(token_server.requests) == 1
    clock.now += 1
    second = auth.credentials_for(api.base)
    assert second != first
    assert len(token_server.requests) == 2
    assert auth.send("GET", f"{api.base}/data").status == 200


def test_token_without_expiry_is_kept_until_a_401(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    clock = FakeClock()
    token_server.expires_in = None
    auth = ConnectionAuthorizer(cc_spec(token_server), client, clock)
    auth.credentials_for(api.base)
    clock.now += 10 * 86400
    auth.credentials_for(api.base)
    assert len(token_server.requests) == 1


def test_shared_cache_between_authorizers(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    cache = MemoryTokenCache()
    a = ConnectionAuthorizer(cc_spec(token_server), client, token_cache=cache, cache_key="org1:b")
    b = ConnectionAuthorizer(cc_spec(token_server), client, token_cache=cache, cache_key="org1:b")
    c = ConnectionAuthorizer(cc_spec(token_server), client, token_cache=cache, cache_key="org2:b")
    assert a.credentials_for(api.base) == b.credentials_for(api.base)
    c.credentials_for(api.base)
    assert len(token_server.requests) == 2
    assert isinstance(cache.get("org1:b"), CachedToken)
    assert "at-0001" not in repr(cache.get("org1:b"))


def test_concurrent_callers_share_one_token_request(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    token_server.delay_s = 0.2
    auth = ConnectionAuthorizer(cc_spec(token_server), client)
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(auth.credentials_for(api.base)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(results) == 8 and len({tuple(r) for r in results}) == 1
    assert len(token_server.requests) == 1


# -- 401: refresh once and retry ----------------------------------------------------------------


def test_401_refreshes_once_and_retries(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    auth = ConnectionAuthorizer(cc_spec(token_server), client)
    assert auth.send("GET", f"{api.base}/data").status == 200
    token_server.valid = set()  # the provider revokes the token early
    response = auth.send("GET", f"{api.base}/data")
    assert response.status == 200
    assert len(token_server.requests) == 2
    api_auth = [r["headers"]["authorization"] for r in api.requests]
    assert api_auth == [
        "Bearer at-0001-xxxxxxxxxxxx",
        "Bearer at-0001-xxxxxxxxxxxx",
        "Bearer at-0002-xxxxxxxxxxxx",
    ]


def test_second_401_is_returned(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    api.state["always_401"] = True  # type: ignore[attr-defined]
    auth = ConnectionAuthorizer(cc_spec(token_server), client)
    response = auth.send("POST", f"{api.base}/data", [("Content-Type", "text/plain")], b"hi")
    assert response.status == 401
    assert len(api.requests) == 2  # one retry, not more
    assert [r["body"] for r in api.requests] == [b"hi", b"hi"]
    assert len(token_server.requests) == 2


def test_on_unauthorized_reuses_a_token_another_caller_refreshed(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    auth = ConnectionAuthorizer(cc_spec(token_server), client)
    stale = auth.credentials_for(api.base)
    assert auth.on_unauthorized(stale) is True  # first caller refreshes
    assert len(token_server.requests) == 2
    assert auth.on_unauthorized(stale) is True  # second caller with the same stale token
    assert len(token_server.requests) == 2
    assert auth.credentials_for(api.base) != stale


def test_non_oauth_401_is_not_retried(api: Server, client: OutboundClient) -> None:
    spec = ConnectionSpec(
        name="k",
        type="api_key",
        api_key="wrong-key-000",
        api_key_header="X-Api-Key",
        hosts=(f"127.0.0.1:{api.port}",),
    )
    auth = ConnectionAuthorizer(spec, client)
    assert auth.on_unauthorized() is False
    assert auth.send("GET", f"{api.base}/data").status == 401
    assert len(api.requests) == 1


# -- authorization code (refresh token) --------------------------------------------------------


def ac_spec(token_server: TokenEndpoint, **kw: Any) -> ConnectionSpec:
    return replace(
        cc_spec(token_server, **kw), type="oauth2_authorization_code", refresh_token=REFRESH
    )


def test_authorization_code_uses_refresh_grant_and_follows_rotation(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    token_server.rotate_refresh = True
    stored: list[str] = []
    auth = ConnectionAuthorizer(ac_spec(token_server), client, on_refresh_token=stored.append)
    assert auth.send("GET", f"{api.base}/data").status == 200
    assert form_of(token_server.requests[0])["grant_type"] == "refresh_token"
    assert form_of(token_server.requests[0])["refresh_token"] == REFRESH
    assert stored == ["rt-rotated-0001"]
    token_server.valid = set()
    assert auth.send("GET", f"{api.base}/data").status == 200
    assert form_of(token_server.requests[1])["refresh_token"] == "rt-rotated-0001"
    assert stored == ["rt-rotated-0001", "rt-rotated-0002"]
    assert "rt-rotated-0002" in auth.secret_values()


def test_revoked_refresh_token_is_a_clear_error(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    token_server.refresh_tokens = set()
    auth = ConnectionAuthorizer(ac_spec(token_server), client)
    with pytest.raises(TokenRequestFailed) as info:
        auth.send("GET", f"{api.base}/data")
    assert (
        info.value.message == "Connection 'billing': token request failed: HTTP 400 invalid_grant"
    )
    assert api.requests == []


# -- token endpoint failures -------------------------------------------------------------------


def test_token_endpoint_error_message(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    token_server.fail = (400, {"error": "invalid_client", "error_description": CLIENT_SECRET})
    auth = ConnectionAuthorizer(cc_spec(token_server), client)
    with pytest.raises(TokenRequestFailed) as info:
        auth.credentials_for(api.base)
    assert str(info.value) == "Connection 'billing': token request failed: HTTP 400 invalid_client"
    assert api.requests == []


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ((200, [("Content-Type", "text/html")], b"<html>"), "HTTP 200, no token in the response"),
        ((200, [], b'{"token_type":"Bearer"}'), "HTTP 200, no access_token in the response"),
        ((200, [], b'{"error":"invalid_code"}'), "HTTP 200 invalid_code"),  # Zoho's style
        ((500, [], b"oops"), "HTTP 500"),
        ((400, [], b'{"error":"a b\\r\\nInjected: 1"}'), "HTTP 400"),
        ((200, [], b'{"access_token":"t","token_type":"mac"}'), "unsupported token_type 'mac'"),
    ],
)
def test_bad_token_responses(
    token_server: TokenEndpoint,
    api: Server,
    client: OutboundClient,
    response: tuple[int, list[tuple[str, str]], bytes],
    message: str,
) -> None:
    token_server.raw_response = response
    auth = ConnectionAuthorizer(cc_spec(token_server), client)
    with pytest.raises(TokenRequestFailed) as info:
        auth.credentials_for(api.base)
    assert str(info.value) == f"Connection 'billing': token request failed: {message}"


def test_form_encoded_token_response(
    token_server: TokenEndpoint, api: Server, client: OutboundClient
) -> None:
    token_server.raw_response = (
        200,
        [("Content-Type", "application/x-www-form-urlencoded")],
        b"access_token=form-token-1&expires_in=60&token_type=bearer",
    )
    auth = ConnectionAuthorizer(cc_spec(token_server), client)
    assert auth.credentials_for(api.base) == [("Authorization", "Bearer form-token-1")]


def test_token_from_another_origin_is_refused(
    token_server: TokenEndpoint, recorder: Server, client: OutboundClient
) -> None:
    token_server.elsewhere = f"{recorder.base}/token"
    spec = replace(cc_spec(token_server), token_url=f"{token_server.server.base}/moved")
    auth = ConnectionAuthorizer(spec, client)
    with pytest.raises(TokenRequestFailed, match="redirected to another origin"):
        auth.token()


def test_token_endpoint_down(client: OutboundClient, api: Server) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    policy = AddressPolicy([f"127.0.0.1:{port}"])
    spec = ConnectionSpec(
        name="down",
        type="oauth2_client_credentials",
        token_url=f"http://127.0.0.1:{port}/t",
        client_id="c",
        client_secret="s-0000",
    )
    with OutboundClient(policy) as c, pytest.raises(TokenRequestFailed) as info:
        ConnectionAuthorizer(spec, c).token()
    assert str(info.value) == "Connection 'down': token request failed: connection refused"


def test_token_url_under_address_policy(api: Server) -> None:
    """NET-1: token requests go through the checked client, so a refused host stays refused."""
    spec = ConnectionSpec(
        name="meta",
        type="oauth2_client_credentials",
        token_url="http://169.254.169.254/latest/token",
        client_id="c",
        client_secret="s-0000",
    )
    with OutboundClient(AddressPolicy()) as c, pytest.raises(TokenRequestFailed) as info:
        ConnectionAuthorizer(spec, c).token()
    assert "destination 169.254.169.254 is not allowed" in str(info.value)


# -- host binding (NET-7) ----------------------------------------------------------------------


def test_net7_connection_named_for_another_host_is_refused(
    token_server: TokenEndpoint, client: OutboundClient
) -> None:
    auth = ConnectionAuthorizer(cc_spec(token_server), client)
    with pytest.raises(ConnectionRefused) as info:
        auth.credentials_for("https://evil.example/steal")
    assert str(info.value) == "Connection 'billing' cannot be used for evil.example"
    assert isinstance(info.value, OutboundRefused)
    assert token_server.requests == []  # no token was even fetched


def test_net7_hosts_with_ports(
    token_server: TokenEndpoint, api: Server, recorder: Server, client: OutboundClient
) -> None:
    spec = cc_spec(token_server, hosts=(f"127.0.0.1:{api.port}", "API.Example.COM."))
    auth = ConnectionAuthorizer(spec, client)
    auth.check_host(f"{api.base}/x")
    auth.check_host("https://api.example.com/v1")
    auth.check_host("https://api.example.com:8443/v1")
    for url in (f"{recorder.base}/x", "https://example.com/", "https://api.example.com.evil.test/"):
        with pytest.raises(ConnectionRefused):
            auth.credentials_for(url)
    # The default binding is the token URL's host, any port.
    default = ConnectionAuthorizer(cc_spec(token_server), client)
    default.check_host(f"{recorder.base}/x")
    assert default.spec.allowed_hosts() == (("127.0.0.1", None),)


def test_net7_credentials_do_not_follow_a_cross_origin_redirect(
    token_server: TokenEndpoint, api: Server, recorder: Server, client: OutboundClient
) -> None:
    specs = [
        cc_spec(token_server, hosts=(f"127.0.0.1:{api.port}",)),
        ConnectionSpec(
            name="key",
            type="api_key",
            api_key="k-abcdef-123",
            api_key_header="X-Api-Key",
            hosts=(f"127.0.0.1:{api.port}",),
        ),
        ConnectionSpec(
            name="basic",
            type="basic",
            username="bob",
            password="pw-0123456",
            hosts=(f"127.0.0.1:{api.port}",),
        ),
    ]
    for spec in specs:
        auth = ConnectionAuthorizer(spec, client)
        response = auth.send(
            "GET", f"{api.base}/redirect", [("Cookie", "sid=1"), ("X-Trace", "t1")]
        )
        assert response.status == 200 and json.loads(response.body) == {"recorded": True}
        assert response.url == f"{recorder.base}/landed"
        sent = api.requests[-1]["headers"]
        seen = recorder.requests[-1]["headers"]
        assert any(h in sent for h in ("authorization", "x-api-key")), spec.name
        for header in ("authorization", "x-api-key", "cookie", "proxy-authorization"):
            assert header not in seen, (spec.name, header)
        assert seen["x-trace"] == "t1"
        for secret in auth.secret_values():
            assert secret not in json.dumps(seen)


# -- api key and basic -------------------------------------------------------------------------


def test_api_key_header_and_query(api: Server, client: OutboundClient) -> None:
    hosts = (f"127.0.0.1:{api.port}",)
    header = ConnectionAuthorizer(
        ConnectionSpec(
            name="h",
            type="api_key",
            api_key="k-abcdef-123",
            api_key_header="X-Api-Key",
            hosts=hosts,
        ),
        client,
    )
    assert header.credentials_for(api.base) == [("X-Api-Key", "k-abcdef-123")]
    assert header.send("GET", f"{api.base}/data").status == 200
    query = ConnectionAuthorizer(
        ConnectionSpec(
            name="q", type="api_key", api_key="k-abcdef-123", api_key_query="api_key", hosts=hosts
        ),
        client,
    )
    url, creds = query.apply(f"{api.base}/data?a=1&api_key=script-value&b=x%20y&api%5Fkey=z")
    assert creds == [] and str(url) == f"{api.base}/data?a=1&b=x%20y&api_key=k-abcdef-123"
    assert query.send("GET", f"{api.base}/data?a=1").status == 200
    assert api.requests[-1]["path"] == "/data?a=1&api_key=k-abcdef-123"
    assert "k-abcdef-123" not in redact(str(url), query.secret_values())
    prefixed = ConnectionSpec(
        name="p",
        type="api_key",
        api_key="k1-secret",
        api_key_header="Authorization",
        api_key_prefix="Token ",
        hosts=hosts,
    )
    assert ConnectionAuthorizer(prefixed, client).credentials_for(api.base) == [
        ("Authorization", "Token k1-secret")
    ]


def test_basic(api: Server, client: OutboundClient) -> None:
    spec = ConnectionSpec(
        name="b",
        type="basic",
        username="bob",
        password="pw-0123456",
        base_url=f"{api.base}/v1",
    )
    auth = ConnectionAuthorizer(spec, client)
    assert auth.send("GET", f"{api.base}/data").status == 200
    encoded = base64.b64encode(b"bob:pw-0123456").decode()
    assert api.requests[-1]["headers"]["authorization"] == f"Basic {encoded}"
    assert encoded not in redact(f"Authorization header was {encoded}", auth.secret_values())


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"type": "oauth2_client_credentials"}, "token_url is required"),
        (
            {
                "type": "oauth2_client_credentials",
                "token_url": "https://a.test/t",
                "client_id": "c",
            },
            "client_secret is required",
        ),
        (
            {
                "type": "oauth2_authorization_code",
                "token_url": "https://a.test/t",
                "client_id": "c",
                "client_secret": "s",
            },
            "refresh_token is required",
        ),
        (
            {
                "type": "oauth2_client_credentials",
                "token_url": "file:///etc/passwd",
                "client_id": "c",
                "client_secret": "s",
            },
            "token_url must be an http(s) URL",
        ),
        ({"type": "api_key", "api_key": "k", "hosts": ("a.test",)}, "exactly one of"),
        (
            {
                "type": "api_key",
                "api_key": "k",
                "api_key_header": "X-Key",
                "api_key_query": "k",
                "hosts": ("a.test",),
            },
            "exactly one of",
        ),
        ({"type": "api_key", "api_key": "k", "api_key_header": "X-Key"}, "hosts is required"),
        (
            {
                "type": "api_key",
                "api_key": "k",
                "api_key_header": "Bad Header",
                "hosts": ("a.test",),
            },
            "invalid api_key_header",
        ),
        ({"type": "basic", "username": "a:b", "password": "p", "hosts": ("a.test",)}, "':'"),
        (
            {"type": "basic", "username": "a", "password": "p\r\nX: 1", "hosts": ("a.test",)},
            "line break",
        ),
        (
            {"type": "basic", "username": "a", "password": "p", "hosts": ("*.a.test",)},
            "invalid host",
        ),
        (
            {"type": "basic", "username": "a", "password": "p", "hosts": ("a.test:99999",)},
            "invalid port",
        ),
        ({"type": "ftp"}, "unknown type"),
    ],
)
def test_invalid_specs(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(
        ConnectionConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        ConnectionSpec(name="x", **kw).validate()


def test_spec_repr_hides_secrets(token_server: TokenEndpoint) -> None:
    spec = ac_spec(token_server)
    assert CLIENT_SECRET not in repr(spec) and REFRESH not in repr(spec)
    assert set(spec.secret_values()) == {CLIENT_SECRET, REFRESH}
    with pytest.raises(ConnectionConfigError, match="invalid connection name"):
        replace(spec, name="bad name").validate()


def test_unknown_connection_message() -> None:
    assert connection_does_not_exist("x").message == "Connection 'x' does not exist"
