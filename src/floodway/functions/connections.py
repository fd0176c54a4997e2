"""Connections: named credentials for outside services (functions-platform.md §7, NET-7).

A script names a connection (``invokeurl [ url: ... connection: "billing" ]``) and never sees
its secret (SEC-5). This module turns a decrypted ``ConnectionSpec`` into the credentials for
one request:

- **Host binding (NET-7).** A connection may only be used for the hosts it lists (default:
  the host of its ``token_url`` or ``base_url``); anything else is refused before a token is
  fetched or a byte is sent, so a script cannot point a connection at a host its author owns.
- **Credentials as ``credentials=``.** They are handed to ``OutboundClient.send`` separately
  from the script's headers, so the client adds them after its checks and drops them on a
  redirect to another origin.
- **OAuth2 tokens** come from the token endpoint through the same ``OutboundClient`` (NET-1:
  the token URL is org configuration too), are cached until shortly before they expire and
  refreshed once after a 401 (``on_unauthorized``).

Known gap: ``OutboundClient.send`` follows redirects itself and has no switch to turn that
off, so a token endpoint answering 307/308 to another (allowed) origin receives the form body
again, ``client_secret`` and ``refresh_token`` included (``client_auth="basic"`` keeps the
client secret in a header, which the client drops across origins). The token is refused in
that case; a ``follow_redirects=False`` option on the client would close the gap.

Storage is the caller's: specs arrive decrypted, tokens go to a ``TokenCache`` (in memory by
default; a database-backed cache should store them encrypted, SEC-1), and a refresh token the
provider rotates is handed to ``on_refresh_token`` to be persisted.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args
from urllib.parse import parse_qsl, unquote_plus, urlencode

import httpx

from .address_policy import OutboundError, OutboundRefused, parse_url, url_host, url_port
from .outbound import MB, MultipartFile, OutboundClient, OutboundResponse

__all__ = [
    "CachedToken",
    "ConnectionAuthorizer",
    "ConnectionConfigError",
    "ConnectionRefused",
    "ConnectionSpec",
    "ConnectionType",
    "MemoryTokenCache",
    "TokenCache",
    "TokenRequestFailed",
    "connection_does_not_exist",
]

ConnectionType = Literal[
    "oauth2_client_credentials", "oauth2_authorization_code", "api_key", "basic"
]
CONNECTION_TYPES: tuple[str, ...] = get_args(ConnectionType)
OAUTH2_TYPES = frozenset({"oauth2_client_credentials", "oauth2_authorization_code"})

TOKEN_TIMEOUT_S = 20.0
TOKEN_MAX_BYTES = 256 * 1024
REFRESH_MARGIN_S = 60.0
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,80}")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class ConnectionConfigError(ValueError):
    """A connection definition is incomplete or contradictory (shown to the admin)."""


class ConnectionRefused(OutboundRefused):
    """NET-7: the connection is not bound to the request's host; nothing was sent."""


class TokenRequestFailed(OutboundError):
    """The token endpoint refused or could not be reached; ``message`` is safe to show."""


def connection_does_not_exist(name: str) -> OutboundError:
    """The runtime error for an unknown connection name (functions-platform.md §7)."""
    return OutboundError(f"Connection '{name[:100]}' does not exist")


def _normal_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _parse_host_entry(entry: str, name: str) -> tuple[str, int | None]:
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port or None for any port)."""
    text = entry.strip()
    port: int | None = None
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ConnectionConfigError(f"Connection '{name}': invalid host {entry!r}")
            port = int(rest[1:])
        text = inside
    elif text.count(":") == 1:
        text, _, port_text = text.partition(":")
        if not port_text.isdigit():
            raise ConnectionConfigError(f"Connection '{name}': invalid host {entry!r}")
        port = int(port_text)
    if not text or "/" in text or "@" in text or "*" in text:
        raise ConnectionConfigError(
            f"Connection '{name}': invalid host {entry!r} (a host name, optionally with :port)"
        )
    if port is not None and not 0 < port < 65536:
        raise ConnectionConfigError(f"Connection '{name}': invalid port in {entry!r}")
    return _normal_host(text), port


@dataclass(frozen=True, slots=True)
class ConnectionSpec:
    """A connection as configured, secrets decrypted (they never appear in ``repr``).

    - ``oauth2_client_credentials``: ``token_url``, ``client_id``, ``client_secret``, ``scopes``.
    - ``oauth2_authorization_code``: the same plus the ``refresh_token`` obtained when an admin
      authorised the connection.
    - ``api_key``: ``api_key`` sent in ``api_key_header`` (value ``api_key_prefix + api_key``)
      or in the query parameter ``api_key_query``.
    - ``basic``: ``username`` and ``password``.

    ``hosts`` lists where the credentials may go (``host`` or ``host:port``); when empty it is
    the host of ``token_url`` (OAuth2) or ``base_url``. ``client_auth`` says how the client
    authenticates at the token endpoint: ``body`` (form fields) or ``basic`` (header).
    """

    name: str
    type: ConnectionType
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ()
    api_key: str | None = field(default=None, repr=False)
    api_key_header: str | None = None
    api_key_query: str | None = None
    api_key_prefix: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    hosts: tuple[str, ...] = ()
    base_url: str | None = None
    client_auth: Literal["body", "basic"] = "body"

    def validate(self) -> None:
        """Raise ``ConnectionConfigError`` naming what is missing or wrong."""
        n = self.name
        if not _NAME.fullmatch(n):
            raise ConnectionConfigError(
                f"invalid connection name {n[:100]!r}: use letters, digits, '_', '.' or '-'"
            )
        if self.type not in CONNECTION_TYPES:
            raise ConnectionConfigError(
                f"Connection '{n}': unknown type {self.type!r} "
                f"(one of {', '.join(CONNECTION_TYPES)})"
            )

        def need(*fields: str) -> None:
            for f in fields:
                if not getattr(self, f):
                    raise ConnectionConfigError(f"Connection '{n}': {f} is required")

        if self.type in OAUTH2_TYPES:
            need("token_url", "client_id", "client_secret")
            if self.type == "oauth2_authorization_code":
                need("refresh_token")
            assert self.token_url is not None
            url = self._parse(self.token_url, "token_url")
            if url.scheme not in ("http", "https") or url.userinfo:
                raise ConnectionConfigError(f"Connection '{n}': token_url must be an http(s) URL")
            if self.client_auth not in ("body", "basic"):
                raise ConnectionConfigError(f"Connection '{n}': client_auth is body or basic")
        elif self.type == "api_key":
            need("api_key")
            if bool(self.api_key_header) == bool(self.api_key_query):
                raise ConnectionConfigError(
                    f"Connection '{n}': set exactly one of api_key_header and api_key_query"
                )
            if self.api_key_header and not _HEADER_NAME.fullmatch(self.api_key_header):
                raise ConnectionConfigError(f"Connection '{n}': invalid api_key_header")
        elif self.type == "basic":
            need("username", "password")
            assert self.username is not None
            if ":" in self.username:
                raise ConnectionConfigError(
                    f"Connection '{n}': a basic-auth user name cannot contain ':'"
                )
        for value in self.secret_values():
            if any(c in value for c in "\r\n\0"):
                raise ConnectionConfigError(f"Connection '{n}': a secret contains a line break")
        if self.base_url:
            self._parse(self.base_url, "base_url")
        if not self.allowed_hosts():
            raise ConnectionConfigError(
                f"Connection '{n}': hosts is required (the hosts its credentials may be sent to)"
            )

    def _parse(self, text: str, what: str) -> httpx.URL:
        try:
            return parse_url(text)
        except OutboundError:
            raise ConnectionConfigError(f"Connection '{self.name}': invalid {what}") from None

    def allowed_hosts(self) -> tuple[tuple[str, int | None], ...]:
        """(host, port or None) pairs the credentials may be sent to (NET-7)."""
        if self.hosts:
            return tuple(_parse_host_entry(h, self.name) for h in self.hosts)
        for source in (self.token_url if self.type in OAUTH2_TYPES else None, self.base_url):
            if source:
                url = self._parse(source, "URL")
                host = url_host(url)
                if host:
                    return ((host, None),)
        return ()

    def secret_values(self) -> list[str]:
        """The secret values, for the redactor (SEC-6)."""
        values = (self.client_secret, self.refresh_token, self.api_key, self.password)
        return [v for v in values if v]


@dataclass(frozen=True, slots=True)
class CachedToken:
    """An access token and when it stops being usable (``None``: unknown, use until a 401)."""

    access_token: str = field(repr=False)
    expires_at: float | None
    obtained_at: float


class TokenCache(Protocol):
    """Where access tokens live between calls; a database-backed one encrypts them (SEC-1)."""

    def get(self, key: str) -> CachedToken | None: ...

    def put(self, key: str, token: CachedToken) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryTokenCache:
    """A per-process token cache (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, CachedToken] = {}

    def get(self, key: str) -> CachedToken | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: str, token: CachedToken) -> None:
        with self._lock:
            self._tokens[key] = token

    def delete(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _outbound_reason(exc: OutboundError) -> str:
    text = exc.message
    for prefix in ("invokeurl failed: ", "invokeurl: "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


class ConnectionAuthorizer:
    """Credentials of one connection for outbound requests (NET-7).

    ``credentials_for(url)`` checks the host binding and returns the ``(header, value)`` pairs
    to pass as ``OutboundClient.send(..., credentials=...)``; ``apply(url)`` also adds an API
    key sent as a query parameter; ``send(...)`` does the whole dance including the single
    retry after a 401. Thread-safe: concurrent callers share one token request.

    ``clock`` returns epoch seconds (the cache may be shared across processes);
    ``cache_key`` defaults to the connection name and should include the org when a cache is
    shared by several orgs.
    """

    def __init__(
        self,
        spec: ConnectionSpec,
        client: OutboundClient,
        clock: Callable[[], float] = time.time,
        token_cache: TokenCache | None = None,
        *,
        cache_key: str | None = None,
        on_refresh_token: Callable[[str], None] | None = None,
        refresh_margin_s: float = REFRESH_MARGIN_S,
        token_timeout_s: float = TOKEN_TIMEOUT_S,
    ) -> None:
        spec.validate()
        self.spec = spec
        self.client = client
        self.clock = clock
        self.cache: TokenCache = token_cache if token_cache is not None else MemoryTokenCache()
        self.cache_key = cache_key or spec.name
        self.on_refresh_token = on_refresh_token
        self.refresh_margin_s = refresh_margin_s
        self.token_timeout_s = token_timeout_s
        self._refresh_token = spec.refresh_token
        self._hosts = spec.allowed_hosts()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ConnectionAuthorizer({self.spec.name!r}, {self.spec.type})"

    @property
    def is_oauth2(self) -> bool:
        return self.spec.type in OAUTH2_TYPES

    # -- host binding ---------------------------------------------------------------------------

    def check_host(self, url: str | httpx.URL) -> httpx.URL:
        """The parsed URL if the connection may be used for its host, else ``ConnectionRefused``."""
        parsed = parse_url(url) if isinstance(url, str) else url
        host = url_host(parsed)
        port = url_port(parsed)
        for allowed, allowed_port in self._hosts:
            if host == allowed and (allowed_port is None or allowed_port == port):
                return parsed
        shown = host if host else "this URL"
        raise ConnectionRefused(f"Connection '{self.spec.name}' cannot be used for {shown[:200]}")

    # -- credentials ----------------------------------------------------------------------------

    def credentials_for(self, url: str | httpx.URL) -> list[tuple[str, str]]:
        """Header credentials for a request to ``url`` (fetching a token when needed)."""
        self.check_host(url)
        spec = self.spec
        if spec.type in OAUTH2_TYPES:
            token = self.token()
            return [("Authorization", f"Bearer {token.access_token}")]
        if spec.type == "basic":
            assert spec.username is not None and spec.password is not None
            return [("Authorization", _basic(spec.username, spec.password))]
        if spec.api_key_header:
            assert spec.api_key is not None
            return [(spec.api_key_header, spec.api_key_prefix + spec.api_key)]
        return []

    def apply(self, url: str | httpx.URL) -> tuple[httpx.URL, list[tuple[str, str]]]:
        """The URL to request (with a query-parameter API key added) and header credentials."""
        parsed = self.check_host(url)
        creds = self.credentials_for(parsed)
        if self.spec.type == "api_key" and self.spec.api_key_query:
            assert self.spec.api_key is not None
            # The script's parameters keep their exact encoding (they may be signed); only a
            # parameter of the key's name is replaced, so a script cannot pick the key.
            name = self.spec.api_key_query
            pieces = [
                p
                for p in parsed.query.decode("ascii").split("&")
                if p and unquote_plus(p.partition("=")[0]) != name
            ]
            pieces.append(urlencode([(name, self.spec.api_key)]))
            parsed = parsed.copy_with(query="&".join(pieces).encode("ascii"))
        return parsed, creds

    def secret_values(self) -> list[str]:
        """Every secret this connection holds right now, for the redactor (SEC-6)."""
        values = self.spec.secret_values()
        if self._refresh_token and self._refresh_token not in values:
            values.append(self._refresh_token)
        cached = self.cache.get(self.cache_key)
        if cached is not None:
            values.append(cached.access_token)
        if self.spec.type == "basic" and self.spec.username and self.spec.password:
            values.append(_basic(self.spec.username, self.spec.password)[len("Basic ") :])
        return values

    # -- OAuth2 tokens --------------------------------------------------------------------------

    def _usable(self, token: CachedToken | None) -> bool:
        if token is None:
            return False
        if token.expires_at is None:
            return True
        lifetime = max(token.expires_at - token.obtained_at, 0.0)
        margin = min(self.refresh_margin_s, lifetime / 2)
        return self.clock() < token.expires_at - margin

    def token(self) -> CachedToken:
        """A usable access token: the cached one, or a new one from the token endpoint."""
        if not self.is_oauth2:
            raise TypeError(f"Connection '{self.spec.name}' is not an OAuth2 connection")
        cached = self.cache.get(self.cache_key)
        if self._usable(cached):
            assert cached is not None
            return cached
        with self._lock:  # one token request at a time; others reuse its result
            cached = self.cache.get(self.cache_key)
            if self._usable(cached):
                assert cached is not None
                return cached
            return self._fetch()

    def on_unauthorized(self, rejected: Sequence[tuple[str, str]] = ()) -> bool:
        """After a 401: drop the token and get a fresh one; True if a retry makes sense.

        Pass the credentials that were rejected: if another thread has already replaced that
        token, the new one is used without asking the token endpoint again. Non-OAuth
        connections have nothing to refresh (False). Token endpoint failures raise
        ``TokenRequestFailed``.
        """
        if not self.is_oauth2:
            return False
        with self._lock:
            cached = self.cache.get(self.cache_key)
            rejected_values = {v for k, v in rejected if k.lower() == "authorization"}
            if (
                cached is not None
                and rejected_values
                and f"Bearer {cached.access_token}" not in rejected_values
                and self._usable(cached)
            ):
                return True
            self.cache.delete(self.cache_key)
            self._fetch()
            return True

    def _fetch(self) -> CachedToken:
        spec = self.spec
        assert spec.token_url is not None and spec.client_id is not None
        assert spec.client_secret is not None
        if spec.type == "oauth2_authorization_code":
            assert self._refresh_token is not None
            form = [("grant_type", "refresh_token"), ("refresh_token", self._refresh_token)]
        else:
            form = [("grant_type", "client_credentials")]
        if spec.scopes:
            form.append(("scope", " ".join(spec.scopes)))
        creds: list[tuple[str, str]] = []
        if spec.client_auth == "basic":
            # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
            creds.append(
                (
                    "Authorization",
                    _basic(urlencode_part(spec.client_id), urlencode_part(spec.client_secret)),
                )
            )
        else:
            form += [("client_id", spec.client_id), ("client_secret", spec.client_secret)]
        started = self.clock()
        try:
            response = self.client.send(
                "POST",
                spec.token_url,
                headers=[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Accept", "application/json"),
                ],
                content=urlencode(form).encode("ascii"),
                credentials=creds,
                timeout_s=self.token_timeout_s,
                max_bytes=TOKEN_MAX_BYTES,
            )
        except OutboundError as exc:
            raise self._failed(_outbound_reason(exc)) from None
        if response.redirects and _origin_of(response.url) != _origin_of(spec.token_url):
            # A token from another origin is not the provider's answer. (The request body
            # may already have gone there on a 307/308: see the module notes.)
            raise self._failed("the token endpoint redirected to another origin")
        token = self._parse_token(response, started)
        self.cache.put(self.cache_key, token)
        return token

    def _failed(self, reason: str) -> TokenRequestFailed:
        return TokenRequestFailed(f"Connection '{self.spec.name}': token request failed: {reason}")

    def _parse_token(self, response: OutboundResponse, started: float) -> CachedToken:
        payload = _token_payload(response)
        error = payload.get("error") if payload is not None else None
        if response.status >= 400 or error is not None:
            reason = f"HTTP {response.status}"
            if isinstance(error, str) and _ERROR_CODE.fullmatch(error):
                reason += f" {error}"
            raise self._failed(reason)
        if response.status != 200 or payload is None:
            raise self._failed(f"HTTP {response.status}, no token in the response")
        access = payload.get("access_token")
        if not isinstance(access, str) or not access or any(c in access for c in "\r\n\0"):
            raise self._failed(f"HTTP {response.status}, no access_token in the response")
        token_type = payload.get("token_type", "Bearer")
        if isinstance(token_type, str) and token_type.lower() not in ("bearer", ""):
            raise self._failed(f"unsupported token_type {token_type[:40]!r}")
        expires_at: float | None = None
        expires_in = payload.get("expires_in")
        if isinstance(expires_in, str) and expires_in.strip().isdigit():
            expires_in = int(expires_in)
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            expires_at = started + max(float(expires_in), 0.0)
        new_refresh = payload.get("refresh_token")
        if (
            self.spec.type == "oauth2_authorization_code"
            and isinstance(new_refresh, str)
            and new_refresh
            and new_refresh != self._refresh_token
        ):
            # The provider rotated the refresh token: the old one may already be dead.
            self._refresh_token = new_refresh
            if self.on_refresh_token is not None:
                self.on_refresh_token(new_refresh)
        return CachedToken(access_token=access, expires_at=expires_at, obtained_at=started)

    # -- one request, with the 401 retry ------------------------------------------------------

    def send(
        self,
        method: str,
        url: str | httpx.URL,
        headers: Sequence[tuple[str, str]] = (),
        content: bytes | None = None,
        *,
        files: Sequence[MultipartFile] = (),
        form: Sequence[tuple[str, str]] = (),
        timeout_s: float = 40.0,
        max_bytes: int = 5 * MB,
    ) -> OutboundResponse:
        """``OutboundClient.send`` with this connection's credentials (functions-platform §7).

        An OAuth2 connection answered with 401 refreshes its token and repeats the request
        once; a second 401 is returned like any other response. Both attempts share nothing
        but their arguments: each gets the full ``timeout_s``, so a caller bounded by an
        execution deadline should pass the time left.
        """

        def attempt() -> tuple[OutboundResponse, list[tuple[str, str]]]:
            target, creds = self.apply(url)
            response = self.client.send(
                method,
                target,
                headers,
                content,
                files=files,
                form=form,
                credentials=creds,
                timeout_s=timeout_s,
                max_bytes=max_bytes,
            )
            return response, creds

        response, creds = attempt()
        if response.status == 401 and self.on_unauthorized(creds):
            response, _ = attempt()
        return response


def _origin_of(url: str) -> tuple[str, str, int]:
    parsed = parse_url(url)
    return parsed.scheme, url_host(parsed), url_port(parsed)


def urlencode_part(value: str) -> str:
    """application/x-www-form-urlencoded encoding of one value (RFC 6749 §2.3.1)."""
    return urlencode([("", value)])[1:]


def _token_payload(response: OutboundResponse) -> dict[str, object] | None:
    """The token response as a dict: JSON, or form-encoded as some providers send."""
    ctype = (response.header("content-type") or "").lower()
    body = response.body
    if "x-www-form-urlencoded" in ctype:
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
