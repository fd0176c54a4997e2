"""The one outbound HTTP client (security.md NET-1, NET-3, NET-6 to NET-9).

Every request whose destination comes from org configuration (``invokeurl``, ``getUrl``,
``postUrl``, webhooks, connection token requests) goes through ``OutboundClient.send``:

- each hop's URL is parsed once and checked (NET-2); redirects are followed here, not by httpx,
  at most 5 times, each hop checked again (NET-6);
- names are resolved inside httpcore's connect step by ``_PinnedBackend``: every answer is
  checked, one refused answer refuses, and the socket connects to a checked address; TLS still
  verifies the original host name (NET-3);
- one total deadline covers connect, redirects, headers and body: every socket read and write is
  clamped to the time left, so a trickling server cannot stretch it (NET-8);
- the body is decoded here in bounded steps (gzip, deflate, and br when a bounded brotli
  decoder is installed) and capped after decoding (NET-8);
- the client ignores the environment (proxies, SSL_CERT_FILE, .netrc) and keeps no cookies
  (NET-9, NET-11).

The API is synchronous: it runs on worker threads.
"""

from __future__ import annotations

import contextvars
import errno
import http.cookiejar
import secrets
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from floodway import __version__

from .address_policy import (
    AddressPolicy,
    OutboundError,
    OutboundRefused,
    ip_literal,
    is_numeric_spelling,
    not_allowed,
    parse_url,
    unsupported,
    url_host,
    url_port,
)

__all__ = [
    "AddressPolicy",
    "MultipartFile",
    "OutboundClient",
    "OutboundError",
    "OutboundRefused",
    "OutboundResponse",
    "system_resolver",
]

MB = 1024 * 1024
CONNECT_TIMEOUT_S = 10.0
MAX_REDIRECTS = 5
MAX_HEADER_BYTES = 64 * 1024
MAX_REQUEST_BYTES = 10 * MB
_CHUNK = 64 * 1024
_MAX_ENCODINGS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CROSS_ORIGIN_DROPPED = frozenset({"authorization", "cookie", "proxy-authorization"})
# Framing and routing headers are ours to set: a script-supplied Host, Content-Length or
# Transfer-Encoding could desynchronise the connection or address another virtual host.
_SCRIPT_HEADERS_IGNORED = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "te", "upgrade", "keep-alive"}
)
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})

Resolver = Callable[[str, int], Sequence[str]]

# The deadline of the call running on this thread; every socket operation is clamped to it.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "floodway_outbound_deadline", default=None
)

try:  # br is only advertised when a decoder with a bounded output buffer is installed
    import brotli as _brotli  # type: ignore[import-not-found, import-untyped, unused-ignore]

    _HAS_BROTLI = hasattr(_brotli, "Decompressor") and hasattr(
        _brotli.Decompressor(), "can_accept_more_data"
    )
except ImportError:  # pragma: no cover - depends on the installation
    _brotli = None
    _HAS_BROTLI = False

ACCEPT_ENCODING = "gzip, deflate, br" if _HAS_BROTLI else "gzip, deflate"


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to, in the system's order (looked up at call time)."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in answers:
        ip = str(sockaddr[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def _time_left() -> float | None:
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


def _clamp(timeout: float | None, exc: type[httpcore.TimeoutException]) -> float | None:
    left = _time_left()
    if left is None:
        return timeout
    if left <= 0:
        raise exc("deadline exceeded")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation ends by the call's total deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # server_hostname is the URL's host (httpcore passes the origin), so certificates are
        # verified against the name even though the socket went to a pinned address.
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """NET-3: resolve inside the connect step, check every answer, connect to a checked one."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.SyncBackend()

    def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        resolver = self._resolver or system_resolver
        result: list[Sequence[str] | BaseException] = []
        done = threading.Event()

        def run() -> None:
            try:
                result.append(resolver(host, port))
            except BaseException as exc:  # handed to the waiting thread
                result.append(exc)
            done.set()

        # A lookup cannot be interrupted, so it runs on a daemon thread and the call stops
        # waiting at the deadline; the thread ends when the system resolver gives up.
        threading.Thread(target=run, name="floodway-resolve", daemon=True).start()
        if not done.wait(timeout):
            raise httpcore.ConnectTimeout("name resolution timed out")
        answer = result[0]
        if isinstance(answer, socket.gaierror):
            raise OutboundError(f"invokeurl failed: unknown host {host}") from answer
        if isinstance(answer, BaseException):
            raise answer
        return [str(a) for a in answer]

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        host = host.lower()
        if is_numeric_spelling(host):
            raise not_allowed(host)
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        literal = ip_literal(host)
        if literal is not None:
            addresses = [str(literal)]
            name: str | None = None
        else:
            addresses = self._resolve(host, port, timeout)
            name = host
            if not addresses:
                raise OutboundError(f"invokeurl failed: unknown host {host}")
        for ip in addresses:
            if not self._policy.is_address_allowed(ip, port, name):
                raise not_allowed(host)
        last: Exception | None = None
        for ip in addresses:
            try:
                stream = self._inner.connect_tcp(
                    ip,
                    port,
                    timeout=_clamp(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:  # try the next checked address
                last = exc
                continue
            return _DeadlineStream(stream)
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise OutboundRefused("invokeurl: destination is not allowed")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class _PinnedTransport(httpx.BaseTransport):
    """httpx transport over an httpcore pool that uses ``_PinnedBackend`` (no proxy, no env)."""

    def __init__(self, pool: httpcore.ConnectionPool) -> None:
        self._pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


# ---------------------------------------------------------------------------------------------
# Bounded decoding (NET-8): every step yields at most _CHUNK bytes, so a small compressed body
# can never expand in memory beyond the cap plus one chunk.


class _ZlibStep:
    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._d: Any = None  # zlib.Decompress; created lazily for deflate's format sniffing
        self._head = b""
        if gzip:
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._d is None:
            # "deflate" is meant to be zlib-wrapped, but many servers send raw deflate; the
            # first two bytes tell them apart.
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        buf = data
        while True:
            if self._d.eof:
                rest = self._d.unused_data
                if not (self._gzip and rest.strip(b"\0")):
                    return  # trailing garbage after the stream is ignored, as browsers do
                self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
                buf = rest
            out = self._d.decompress(buf, _CHUNK)
            if out:
                yield out
            buf = self._d.unconsumed_tail
            if not buf and len(out) < _CHUNK and not self._d.eof:
                return


class _BrotliStep:
    def __init__(self) -> None:
        assert _brotli is not None
        self._d = _brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self._d.process(data, output_buffer_limit=_CHUNK)
        if out:
            yield out
        # Drain what this input produced, one bounded buffer at a time (empty input is always
        # accepted; can_accept_more_data() may turn true while output is still buffered).
        while out and not self._d.is_finished():
            out = self._d.process(b"", output_buffer_limit=_CHUNK)
            if out:
                yield out


_Step = _ZlibStep | _BrotliStep


def _decoders(content_encoding: str) -> list[_Step] | None:
    """Decoders in application order, or None to pass the body through undecoded."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > _MAX_ENCODINGS:
        return None
    steps: list[_Step] = []
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            steps.append(_ZlibStep(gzip=True))
        elif coding == "deflate":
            steps.append(_ZlibStep(gzip=False))
        elif coding == "br" and _HAS_BROTLI:
            steps.append(_BrotliStep())
        else:
            return None  # not something we asked for: hand over the bytes as they came
    return steps


def _run_chain(steps: Sequence[_Step], data: bytes) -> Iterator[bytes]:
    if not steps:
        if data:
            yield data
        return
    for out in steps[0].feed(data):
        yield from _run_chain(steps[1:], out)


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MultipartFile:
    """One file part of a multipart/form-data request."""

    field: str
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(slots=True)
class OutboundResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    url: str
    redirects: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


def _quote_part_name(value: str) -> str:
    # HTML's multipart encoding: escape the characters that would end the quoted string or line.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def encode_multipart(
    form: Sequence[tuple[str, str]], files: Sequence[MultipartFile]
) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type header value."""
    boundary = "floodway-" + secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in form:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote_part_name(name)}"'
            f"\r\n\r\n".encode()
            + value.encode("utf-8")
            + b"\r\n"
        )
    for f in files:
        ctype = f.content_type.replace("\r", "").replace("\n", "") or "application/octet-stream"
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote_part_name(f.field)}"; '
            f'filename="{_quote_part_name(f.filename)}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
            + f.content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _size_text(nbytes: int) -> str:
    return f"{nbytes // MB} MB" if nbytes % MB == 0 else f"{nbytes} bytes"


def _valid_header(name: str, value: str) -> bool:
    if not name or any(c in name for c in " \t\r\n:\0") or not name.isascii():
        return False
    return not any(c in value for c in "\r\n\0")


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return (url.scheme, url_host(url), url_port(url))


def _cause_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _transport_error(exc: Exception) -> OutboundError:
    """Map an httpcore/httpx/OS failure to the Deluge runtime error text (§11.1)."""
    if isinstance(exc, httpcore.TimeoutException | httpx.TimeoutException | TimeoutError):
        return OutboundError("socket timeout error")
    for link in _cause_chain(exc):
        if isinstance(link, ssl.SSLCertVerificationError):
            return OutboundError("invokeurl failed: TLS certificate verification failed")
        if isinstance(link, ssl.SSLError):
            return OutboundError("invokeurl failed: TLS handshake failed")
        if isinstance(link, ConnectionRefusedError) or (
            isinstance(link, OSError) and link.errno == errno.ECONNREFUSED
        ):
            return OutboundError("invokeurl failed: connection refused")
        if isinstance(link, ConnectionResetError):
            return OutboundError("invokeurl failed: connection reset")
        if isinstance(link, socket.timeout):
            return OutboundError("socket timeout error")
    if isinstance(exc, httpcore.RemoteProtocolError | httpx.RemoteProtocolError):
        return OutboundError("invokeurl failed: invalid response")
    if isinstance(exc, httpcore.LocalProtocolError | httpx.LocalProtocolError):
        return OutboundError("invokeurl failed: invalid request")
    return OutboundError("invokeurl failed: connection failed")


class OutboundClient:
    """The one HTTP client for destinations chosen by org configuration (NET-1).

    Thread-safe; keep one per process (per policy) so connections are pooled. A pooled
    connection stays bound to the address that was checked when it was opened (NET-3).
    """

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver | None = None,
        user_agent: str = f"floodway/{__version__}",
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self.policy = policy
        self.user_agent = user_agent
        self.connect_timeout_s = connect_timeout_s
        self.max_header_bytes = max_header_bytes
        self.max_request_bytes = max_request_bytes
        # certifi's bundle, not SSL_CERT_FILE/SSL_CERT_DIR (NET-9); verification is always on.
        context = ssl_context or httpx.create_ssl_context(verify=True, trust_env=False)
        pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_PinnedBackend(policy, resolver),
        )
        # A cookie jar that accepts nothing: one function's cookies must never reach another.
        no_cookies = http.cookiejar.CookieJar(
            policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
        )
        self._client = httpx.Client(
            transport=_PinnedTransport(pool),
            trust_env=False,
            follow_redirects=False,
            cookies=no_cookies,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OutboundClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self,
        method: str,
        url: str | httpx.URL,
        headers: Sequence[tuple[str, str]] = (),
        content: bytes | None = None,
        *,
        files: Sequence[MultipartFile] = (),
        form: Sequence[tuple[str, str]] = (),
        credentials: Sequence[tuple[str, str]] = (),
        timeout_s: float = 40.0,
        max_bytes: int = 5 * MB,
    ) -> OutboundResponse:
        """Send a request under the policy and caps; follow up to 5 redirects ourselves.

        ``credentials`` are connection credentials (NET-7): added after the checks and only
        to the first origin; a cross-origin hop drops them and the script's Authorization,
        Cookie and Proxy-Authorization, and a downgrade to http with credentials fails.
        Raises ``OutboundRefused`` for refused destinations and ``OutboundError`` otherwise.
        """
        method = method.upper()
        text = url if isinstance(url, str) else str(url)
        current = parse_url(url) if isinstance(url, str) else url
        request_headers: list[tuple[str, str]] = []
        for name, value in headers:
            if not _valid_header(name, value):
                raise OutboundError(f"invokeurl failed: invalid header '{name[:100]}'")
            if name.lower() not in _SCRIPT_HEADERS_IGNORED:
                request_headers.append((name, value))
        for name, value in credentials:
            if not _valid_header(name, value):
                raise OutboundError("invokeurl failed: invalid credential header")
        body = content
        if files or form:
            if content is not None:
                raise OutboundError("invokeurl failed: a body cannot be combined with files")
            body, ctype = encode_multipart(form, files)
            request_headers = [(k, v) for k, v in request_headers if k.lower() != "content-type"]
            request_headers.append(("Content-Type", ctype))
        if body is not None and len(body) > self.max_request_bytes:
            raise OutboundError(
                f"invokeurl failed: request body exceeds {_size_text(self.max_request_bytes)}"
            )

        token = _DEADLINE.set(time.monotonic() + timeout_s)
        try:
            first_origin = None
            creds: Sequence[tuple[str, str]] = credentials
            for hop in range(MAX_REDIRECTS + 1):
                self.policy.check_url(current, text)
                if first_origin is None:
                    first_origin = _origin(current)
                elif _origin(current) != first_origin:
                    request_headers = [
                        (k, v) for k, v in request_headers if k.lower() not in _CROSS_ORIGIN_DROPPED
                    ]
                    if creds and current.scheme == "http" and first_origin[0] == "https":
                        raise OutboundError(
                            "invokeurl failed: redirect from https to http with credentials"
                        )
                    creds = ()
                response = self._one_hop(
                    method, current, [*request_headers, *creds], body, max_bytes
                )
                location = response.header("location")
                if response.status not in _REDIRECTS or location is None:
                    response.redirects = hop
                    return response
                if hop == MAX_REDIRECTS:
                    break
                text = location
                try:
                    current = current.join(location)
                except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
                    raise unsupported(location) from exc
                if (response.status == 303 and method != "HEAD") or (
                    response.status in (301, 302) and method == "POST"
                ):
                    method = "GET"
                    body = None
                    request_headers = [
                        (k, v) for k, v in request_headers if k.lower() not in _BODY_HEADERS
                    ]
            raise OutboundError(f"invokeurl failed: more than {MAX_REDIRECTS} redirects")
        finally:
            _DEADLINE.reset(token)

    def _one_hop(
        self,
        method: str,
        url: httpx.URL,
        headers: list[tuple[str, str]],
        body: bytes | None,
        max_bytes: int,
    ) -> OutboundResponse:
        left = _time_left()
        if left is None or left <= 0:
            raise OutboundError("socket timeout error")
        all_headers = [("User-Agent", self.user_agent), ("Accept", "*/*")]
        all_headers.append(("Accept-Encoding", ACCEPT_ENCODING))
        names = {k.lower() for k, _ in headers}
        all_headers = [(k, v) for k, v in all_headers if k.lower() not in names] + headers
        timeouts = {
            "connect": min(self.connect_timeout_s, left),
            "read": left,
            "write": left,
            "pool": left,
        }
        try:
            request = httpx.Request(
                method, url, headers=all_headers, content=body, extensions={"timeout": timeouts}
            )
            response = self._client.send(request, stream=True)
        except OutboundError:
            raise
        except (httpcore.TimeoutException, httpx.TimeoutException) as exc:
            raise OutboundError("socket timeout error") from exc
        except (
            httpcore.NetworkError,
            httpcore.ProtocolError,
            httpx.TransportError,
            OSError,
        ) as exc:
            raise _transport_error(exc) from exc
        try:
            raw_headers = response.headers.raw
            if sum(len(k) + len(v) + 4 for k, v in raw_headers) > self.max_header_bytes:
                raise OutboundError(
                    f"invokeurl failed: response headers exceed {self.max_header_bytes // 1024} KB"
                )
            header_list = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers]
            body_bytes = b""
            if response.status_code not in _REDIRECTS or "location" not in response.headers:
                body_bytes = self._read_body(response, max_bytes)
            return OutboundResponse(
                status=response.status_code, headers=header_list, body=body_bytes, url=str(url)
            )
        except OutboundError:
            raise
        except (httpcore.TimeoutException, httpx.TimeoutException) as exc:
            raise OutboundError("socket timeout error") from exc
        except (
            httpcore.NetworkError,
            httpcore.ProtocolError,
            httpx.TransportError,
            OSError,
        ) as exc:
            raise _transport_error(exc) from exc
        finally:
            response.close()

    def _read_body(self, response: httpx.Response, max_bytes: int) -> bytes:
        too_big = OutboundError(f"Response exceeds {_size_text(max_bytes)}")
        steps = _decoders(response.headers.get("content-encoding", ""))
        if steps is None:
            steps = []
        # Compressed input is bounded too, so garbage that decodes to nothing cannot run on.
        raw_limit = 2 * max_bytes + _CHUNK
        raw_total = 0
        out = bytearray()
        try:
            for raw in response.iter_raw(_CHUNK):
                raw_total += len(raw)
                if raw_total > raw_limit:
                    raise too_big
                for piece in _run_chain(steps, raw):
                    if len(out) + len(piece) > max_bytes:
                        raise too_big
                    out += piece
                left = _time_left()
                if left is not None and left <= 0:
                    raise OutboundError("socket timeout error")
        except zlib.error as exc:
            raise OutboundError("invokeurl failed: response could not be decoded") from exc
        except Exception as exc:
            if _HAS_BROTLI and isinstance(exc, _brotli.error):
                raise OutboundError("invokeurl failed: response could not be decoded") from exc
            raise
        return bytes(out)
