"""Webhook delivery: outbox rows written with the write, delivered by the job queue through the
outbound client (invokeurl's destination policy), retried on 5xx/429/connection errors after
1 min, 5 min, 30 min and 2 h, final on other 4xx, resendable once failed.

The receiving end is a real HTTP server on 127.0.0.1; the job engine is the real one (SQLite's
embedded queue with a controllable clock, so retry delays are crossed by moving the clock;
PostgreSQL's procrastinate queue for delivery without delays).
"""

from __future__ import annotations

import datetime as dt
import http.server
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from floodway.automation.webhooks import RETRY_DELAYS_S, Webhooks
from floodway.crm.testing import open_test_crm
from floodway.db import write_transaction
from floodway.functions.service import Functions
from floodway.jobs import open_queue
from floodway.settings import Settings


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Receiver:
    """An HTTP server answering with the scripted statuses (the last one repeats)."""

    statuses: list[int]
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver([200])

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            rec.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body.decode(),
                }
            )
            index = min(len(rec.requests), len(rec.statuses)) - 1
            status = rec.statuses[index]
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_POST = do_GET = do_PUT = _answer

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@dataclass
class Env:
    crm: Any
    fx: Functions
    queue: Any
    hooks: Webhooks
    clock: Clock

    def queue_hook(self, url: str, **kw: Any) -> str:
        with write_transaction(self.crm.engine) as conn:
            return self.hooks.queue_webhook(
                conn,
                url=url,
                method=kw.pop("method", "POST"),
                headers=kw.pop("headers", {"Content-Type": "application/json"}),
                body=kw.pop("body", '{"deal": "Acme"}'),
                rule_id="1234",
                rule="Notify billing",
                module="Deals",
                record_id="5678",
                chain=None,
                **kw,
            )

    def settle(self) -> None:
        assert self.queue.wait_idle(20), "jobs did not finish"

    def row(self, wid: str) -> dict[str, Any]:
        found = self.hooks.get(wid)
        assert found is not None
        return found


def _env(backend: str, tmp_path: Path, allow: list[str]) -> Iterator[Env]:
    clock = Clock()
    settings = Settings(
        invokeurl_allow=allow,
        job_poll_interval_s=0.05,
        webhook_timeout_s=2.0,
    )
    with open_test_crm(backend, tmp_path / "crm", clock=clock) as crm:
        fx = Functions(crm, settings)
        queue = open_queue(crm.engine, settings, clock=crm.clock)
        hooks = Webhooks(crm, fx, queue, settings)
        hooks.attach()
        queue.start(concurrency=2)
        try:
            yield Env(crm, fx, queue, hooks, clock)
        finally:
            queue.stop()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """SQLite's embedded queue on a controllable clock; loopback allowed as a destination."""
    yield from _env("sqlite", tmp_path, ["127.0.0.1"])


@pytest.fixture(params=["sqlite", "postgresql"])
def any_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    yield from _env(request.param, tmp_path, ["127.0.0.1"])


def test_committed_webhook_is_delivered_with_its_method_headers_and_body(
    any_env: Env, receiver: Receiver
) -> None:
    wid = any_env.queue_hook(receiver.url, headers={"X-Source": "floodway"})
    any_env.settle()
    row = any_env.row(wid)
    assert row["status"] == "sent", row
    assert [a["status"] for a in row["attempts"]] == [200]
    assert row["next_attempt_at"] is None
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert req["method"] == "POST" and req["path"] == "/hook"
    assert req["headers"]["X-Source"] == "floodway"
    assert req["body"] == '{"deal": "Acme"}'
    assert row["rule"] == "Notify billing" and row["record_id"] == "5678"
    assert any_env.hooks.list(status="sent")[0]["id"] == wid


def test_rolled_back_write_queues_no_webhook(env: Env, receiver: Receiver) -> None:
    with pytest.raises(RuntimeError), write_transaction(env.crm.engine) as conn:
        env.hooks.queue_webhook(
            conn,
            url=receiver.url,
            method="POST",
            headers={},
            body="{}",
            rule_id=None,
            rule="r",
            module="Deals",
            record_id=None,
            chain=None,
        )
        raise RuntimeError("the write failed")
    env.settle()
    assert env.hooks.list() == []
    assert receiver.requests == []


def test_server_errors_are_retried_after_one_then_five_minutes(
    env: Env, receiver: Receiver
) -> None:
    receiver.statuses = [503, 429, 200]
    wid = env.queue_hook(receiver.url)
    env.settle()
    row = env.row(wid)
    assert row["status"] == "pending"
    assert [a["status"] for a in row["attempts"]] == [503]
    assert row["attempts"][0]["error"] == "HTTP 503"
    first_at = dt.datetime.fromisoformat(row["attempts"][0]["at"].replace("Z", "+00:00"))
    next_at = dt.datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00"))
    assert (next_at - first_at).total_seconds() == RETRY_DELAYS_S[0] == 60

    env.clock.advance(59)
    env.settle()
    assert len(receiver.requests) == 1  # not before its time
    env.clock.advance(1)
    env.settle()
    row = env.row(wid)
    assert [a["status"] for a in row["attempts"]] == [503, 429]
    assert row["status"] == "pending"

    env.clock.advance(RETRY_DELAYS_S[1])
    env.settle()
    row = env.row(wid)
    assert row["status"] == "sent"
    assert [a["status"] for a in row["attempts"]] == [503, 429, 200]
    assert len(receiver.requests) == 3


def test_other_4xx_is_final_after_one_attempt(env: Env, receiver: Receiver) -> None:
    receiver.statuses = [404]
    wid = env.queue_hook(receiver.url)
    env.settle()
    row = env.row(wid)
    assert row["status"] == "failed"
    assert row["attempts"] == [{"at": row["attempts"][0]["at"], "status": 404, "error": "HTTP 404"}]
    env.clock.advance(3 * 3600)
    env.settle()
    assert len(receiver.requests) == 1
    assert [r["id"] for r in env.hooks.list(status="failed")] == [wid]


def test_five_failed_attempts_end_failed_and_resend_delivers(env: Env, receiver: Receiver) -> None:
    receiver.statuses = [500]
    wid = env.queue_hook(receiver.url)
    env.settle()
    for delay in RETRY_DELAYS_S:
        assert env.row(wid)["status"] == "pending"
        env.clock.advance(delay)
        env.settle()
    row = env.row(wid)
    assert row["status"] == "failed"
    assert [a["status"] for a in row["attempts"]] == [500] * 5
    assert len(receiver.requests) == 5

    receiver.statuses = [500] * 5 + [200]
    resent = env.hooks.resend(wid)
    assert resent["status"] == "pending"
    env.settle()
    row = env.row(wid)
    assert row["status"] == "sent"
    assert [a["status"] for a in row["attempts"]] == [500] * 5 + [200]


def test_resend_refuses_unknown_and_pending_webhooks(env: Env, receiver: Receiver) -> None:
    from floodway.automation.errors import AutomationError

    with pytest.raises(AutomationError) as missing:
        env.hooks.resend("42")
    assert missing.value.code == "NOT_FOUND"
    receiver.statuses = [503]
    wid = env.queue_hook(receiver.url)
    env.settle()
    with pytest.raises(AutomationError) as pending:
        env.hooks.resend(wid)
    assert pending.value.code == "INVALID_DATA"


def test_connection_refused_is_retried(env: Env) -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    wid = env.queue_hook(f"http://127.0.0.1:{port}/hook")
    env.settle()
    row = env.row(wid)
    assert row["status"] == "pending"
    assert row["attempts"][0]["status"] is None
    assert "connection refused" in row["attempts"][0]["error"]


def test_private_destination_is_refused_without_invokeurl_allow(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The loopback listener stands for any private address: without an allow-list entry the
    policy refuses it before connecting, and a refusal is final."""
    for env in _env("sqlite", tmp_path, []):
        wid = env.queue_hook(receiver.url)
        env.settle()
        row = env.row(wid)
        assert row["status"] == "failed"
        assert row["attempts"][0]["status"] is None
        assert "not allowed" in row["attempts"][0]["error"]
        env.clock.advance(3 * 3600)
        env.settle()
    assert receiver.requests == []


def test_allow_list_entry_for_another_port_still_refuses(
    tmp_path: Path, receiver: Receiver
) -> None:
    for env in _env("sqlite", tmp_path, [f"127.0.0.1:{receiver.port + 1}"]):
        wid = env.queue_hook(receiver.url)
        env.settle()
        assert env.row(wid)["status"] == "failed"
    assert receiver.requests == []
