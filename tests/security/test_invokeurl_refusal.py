"""NET-2, NET-4, NET-5, NET-6 end to end: Deluge ``invokeurl`` against real loopback listeners.

Under the default policy (no allow-list) every loopback spelling is refused before any socket
connects: the listeners count their accepts and must see none. With the listener's own
``127.0.0.1:PORT`` allow-listed, requests work, and a redirect to a second, non-allowed listener
is refused without touching it. All traffic stays on loopback (security.md §3.1).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from floodway.deluge import Limits, compile_program, run
from floodway.deluge.values import DelugeMap
from floodway.functions.standalone_host import StandaloneHost
from floodway.settings import load_settings


class CountingListener:
    """A TCP listener that counts accepted connections and closes them at once."""

    def __init__(self, family: int = socket.AF_INET, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.accepts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepts += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    lst = CountingListener()
    yield lst
    lst.close()


@pytest.fixture
def listener6() -> Iterator[CountingListener | None]:
    try:
        lst = CountingListener(socket.AF_INET6, "::1")
    except OSError:
        yield None
        return
    yield lst
    lst.close()


@pytest.fixture(autouse=True)
def _no_env_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOODWAY_INVOKEURL_ALLOW", raising=False)


def execute(source: str, allow: list[str] | None = None) -> Any:
    settings = load_settings(invokeurl_allow=allow) if allow else load_settings()
    host = StandaloneHost(folder=Path(__file__).parent, settings=settings)
    program = compile_program(source, name="net_test")
    return run(program, {}, host, Limits(time_s=10), tz="UTC")


def caught(url: str) -> str:
    """Run an invokeurl inside try/catch and return the caught message."""
    src = (
        f'try {{\n\tr = invokeurl\n\t[\n\t\turl: "{url}"\n\t\ttype: GET\n\t];\n}}\n'
        'catch (e)\n{\n\treturn "caught: " + e;\n}\nreturn "connected";'
    )
    result = execute(src)
    assert result.status == "success", result.to_json()
    assert type(result.value) is str
    return result.value


# --- default policy: every loopback spelling refused, nothing connects ---------------------------
@pytest.mark.parametrize(
    ("template", "shown"),
    [
        ("http://127.0.0.1:{port}", "127.0.0.1"),
        ("http://localhost:{port}", "localhost"),
        ("http://127.1:{port}", "127.1"),
        ("http://2130706433:{port}", "2130706433"),
        ("http://[::ffff:127.0.0.1]:{port}", None),
        ("http://127.0.0.1:{port}/path?q=1", "127.0.0.1"),
        ("https://127.0.0.1:{port}/", "127.0.0.1"),
        ("http://0x7f.0.0.1:{port}/", None),
        ("http://0177.0.0.1:{port}/", None),
        ("http://0.0.0.0:{port}/", None),
    ],
)
def test_net4_loopback_spellings_refused_under_default_policy(
    listener: CountingListener, template: str, shown: str | None
) -> None:
    message = caught(template.format(port=listener.port))
    assert message.startswith("caught: invokeurl"), message
    if shown is not None:
        assert message == f"caught: invokeurl: destination {shown} is not allowed"
    assert listener.accepts == 0


def test_net4_ipv6_loopback_refused(listener6: CountingListener | None) -> None:
    if listener6 is None:
        pytest.skip("no IPv6 loopback on this machine")
    message = caught(f"http://[::1]:{listener6.port}/")
    assert message == "caught: invokeurl: destination ::1 is not allowed"
    assert listener6.accepts == 0


def test_net2_userinfo_refused(listener: CountingListener) -> None:
    message = caught(f"http://user@127.0.0.1:{listener.port}/")
    assert message.startswith("caught: invokeurl"), message
    assert "user@" not in message  # the user-info is not echoed back
    message = caught(f"http://user:secret@127.0.0.1:{listener.port}/")
    assert message.startswith("caught: invokeurl"), message
    assert "secret" not in message
    assert listener.accepts == 0


@pytest.mark.parametrize(
    "template",
    ["file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1:{port}/", "data:text/plain,hi"],
)
def test_net2_other_schemes_refused(listener: CountingListener, template: str) -> None:
    url = template.format(port=listener.port)
    assert caught(url) == f"caught: invokeurl: unsupported URL '{url}'"
    assert listener.accepts == 0


def test_net4_uncaught_refusal_is_runtime_failure(listener: CountingListener) -> None:
    result = execute(
        f'r = invokeurl [ url: "http://127.0.0.1:{listener.port}/" type: GET ];\nreturn r;'
    )
    assert result.status == "failure"
    assert result.error.kind == "runtime"
    assert result.error.message == "invokeurl: destination 127.0.0.1 is not allowed"
    assert result.error.line == 1
    assert listener.accepts == 0


def test_net4_metadata_address_refused_without_socket(network_rule: Any) -> None:
    result = execute('r = invokeurl [ url: "http://169.254.169.254/latest/meta-data" ];\nreturn r;')
    assert result.error is not None
    assert result.error.message == "invokeurl: destination 169.254.169.254 is not allowed"
    assert network_rule.violations == []


@pytest.mark.parametrize("fn", ["getUrl(u)", 'postUrl(u, {"a": 1})'])
def test_net5_legacy_functions_refused(listener: CountingListener, fn: str) -> None:
    src = f'u = "http://127.0.0.1:{listener.port}/";\ntry {{ r = {fn}; }} catch (e) {{ return e; }}\nreturn "connected";'
    result = execute(src)
    assert result.value == "invokeurl: destination 127.0.0.1 is not allowed"
    assert listener.accepts == 0


def test_net5_allow_list_of_another_port_does_not_cover(listener: CountingListener) -> None:
    other = CountingListener()
    try:
        src = f'try {{ r = invokeurl [ url: "http://127.0.0.1:{listener.port}/" ]; }} catch (e) {{ return e; }}\nreturn "connected";'
        result = execute(src, allow=[f"127.0.0.1:{other.port}"])
        assert result.value == "invokeurl: destination 127.0.0.1 is not allowed"
        assert listener.accepts == 0
    finally:
        other.close()


# --- allow-listed loopback server ------------------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []


def _http_server(recorder: Recorder, redirect_to: str | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )

        def do_GET(self) -> None:
            self._record()
            if redirect_to is not None:
                self.send_response(302)
                self.send_header("Location", redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            payload = json.dumps({"ok": True, "items": [1, 2], "path": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Test-Header", "Yes")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            self._record()
            payload = b"created"
            self.send_response(201)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def web() -> Iterator[tuple[ThreadingHTTPServer, Recorder]]:
    rec = Recorder()
    server = _http_server(rec)
    yield server, rec
    server.shutdown()
    server.server_close()


def _allow(server: ThreadingHTTPServer) -> list[str]:
    return [f"127.0.0.1:{server.server_address[1]}"]


def test_net5_allow_listed_get_returns_map(web: tuple[ThreadingHTTPServer, Recorder]) -> None:
    server, rec = web
    port = server.server_address[1]
    src = (
        f'r = invokeurl\n[\n\turl: "http://127.0.0.1:{port}/orders"\n\ttype: GET\n'
        '\tparameters: {"q": "a b", "n": 2}\n];\n'
        'info r.get("ok");\nreturn r;'
    )
    result = execute(src, allow=_allow(server))
    assert result.status == "success", result.to_json()
    assert type(result.value) is DelugeMap
    assert result.value["ok"] is True
    assert list(result.value["items"]) == [1, 2]
    assert rec.requests[0]["path"] == "/orders?q=a+b&n=2"
    assert rec.requests[0]["headers"]["user-agent"].startswith("floodway/")


def test_net5_allow_listed_post_sends_form_fields(
    web: tuple[ThreadingHTTPServer, Recorder],
) -> None:
    server, rec = web
    port = server.server_address[1]
    src = (
        f'r = invokeurl\n[\n\turl: "http://127.0.0.1:{port}/create"\n\ttype: POST\n'
        '\tparameters: {"name": "Ann & Bob", "tags": {"a", "b"}}\n];\nreturn r;'
    )
    result = execute(src, allow=_allow(server))
    assert result.status == "success", result.to_json()
    assert result.value == "created"
    req = rec.requests[0]
    assert req["method"] == "POST"
    assert req["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
    assert req["body"] == b"name=Ann+%26+Bob&tags=%5B%22a%22%2C%22b%22%5D"


def test_net5_detailed_response(web: tuple[ThreadingHTTPServer, Recorder]) -> None:
    server, _ = web
    port = server.server_address[1]
    src = (
        f'r = invokeurl\n[\n\turl: "http://127.0.0.1:{port}/d"\n\ttype: GET\n\tdetailed: true\n];\n'
        "return r;"
    )
    result = execute(src, allow=_allow(server))
    assert result.status == "success", result.to_json()
    value = result.value
    assert type(value) is DelugeMap
    assert value["responseCode"] == 200
    assert type(value["responseHeader"]) is DelugeMap
    assert value["responseHeader"]["x-test-header"] == "Yes"
    assert value["responseHeader"]["content-type"] == "application/json"
    assert type(value["responseText"]) is DelugeMap
    assert value["responseText"]["path"] == "/d"


def test_net6_redirect_to_non_allowed_listener_refused() -> None:
    target = Recorder()
    second = _http_server(target)
    second_port = second.server_address[1]
    rec = Recorder()
    first = _http_server(rec, redirect_to=f"http://127.0.0.1:{second_port}/steal")
    try:
        src = (
            f'try {{\n\tr = invokeurl [ url: "http://127.0.0.1:{first.server_address[1]}/start" ];\n}}'
            '\ncatch (e)\n{\n\treturn "caught: " + e;\n}\nreturn r;'
        )
        result = execute(src, allow=_allow(first))
        assert result.status == "success", result.to_json()
        assert result.value == "caught: invokeurl: destination 127.0.0.1 is not allowed"
        assert len(rec.requests) == 1
        assert target.requests == []
    finally:
        for s in (first, second):
            s.shutdown()
            s.server_close()


def test_net6_redirect_to_file_scheme_refused() -> None:
    rec = Recorder()
    first = _http_server(rec, redirect_to="file:///etc/passwd")
    try:
        src = (
            f'try {{ r = invokeurl [ url: "http://127.0.0.1:{first.server_address[1]}/" ]; }}'
            "\ncatch (e) { return e; }\nreturn r;"
        )
        result = execute(src, allow=_allow(first))
        assert type(result.value) is str
        assert result.value.startswith("invokeurl"), result.value
    finally:
        first.shutdown()
        first.server_close()
