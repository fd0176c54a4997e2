"""A running workflow engine for tests: a CRM on SQLite or PostgreSQL with a controllable clock,
the functions platform, the real job queue (embedded on SQLite, procrastinate on PostgreSQL),
the rule store, webhooks and the engine, plus helpers to save records and wait for the jobs.

The clock starts at the real current time (procrastinate schedules delayed jobs on the
database's clock, so a fake clock in the past would make them due at once) and moves only when
a test says so. On SQLite the embedded queue compares delayed jobs with this clock, so moving it
runs them; on PostgreSQL ``run_scheduled`` hands a due scheduled action to the engine's handler
the way the queue would.
"""

from __future__ import annotations

import datetime as dt
import http.server
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from floodway.automation import schema as auto_schema
from floodway.automation.engine import TASK, WorkflowEngine
from floodway.automation.store import AutomationStore, Item
from floodway.automation.webhooks import Webhooks
from floodway.crm.service import Actor
from floodway.crm.testing import open_test_crm
from floodway.db import read_transaction
from floodway.functions.service import Functions
from floodway.jobs import Job, open_queue
from floodway.settings import Settings


class Clock:
    """A clock tests move by hand (thread-safe: workers read it)."""

    def __init__(self) -> None:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += dt.timedelta(seconds=seconds)

    def set(self, moment: dt.datetime) -> None:
        with self._lock:
            self._now = moment


@dataclass
class Env:
    backend: str
    crm: Any
    fx: Functions
    queue: Any
    store: AutomationStore
    engine: WorkflowEngine
    hooks: Webhooks
    clock: Clock

    # ---------------------------------------------------------------- definitions

    def function(self, header_args: str, body: str, name: str | None = None) -> str:
        api = name or "wf_" + secrets.token_hex(4)
        source = f"void automation.{api}({header_args})\n{{\n{body}\n}}\n"
        return self.fx.registry.create(source, publish=True).function.api_name

    def rule(self, **table: Any) -> Item:
        table.setdefault("name", "rule " + secrets.token_hex(3))
        table.setdefault("module", "Deals")
        return self.store.create("workflow", table)

    # ---------------------------------------------------------------- writes

    def actor(self, workflow: bool = True, user_id: str | None = None) -> Actor:
        return Actor(user_id or str(self.crm.primary_admin_id), "api", workflow)

    def create(self, module: str = "Deals", actor: Actor | None = None, **data: Any) -> str:
        if module == "Deals":
            data.setdefault("Deal_Name", "Deal " + secrets.token_hex(3))
            data.setdefault("Stage", "Qualification")
        res = self.crm.records.create(module, [data], actor=actor or self.actor())[0]
        assert res["status"] == "success", res
        return str(res["details"]["id"])

    def update(
        self, record_id: str, module: str = "Deals", actor: Actor | None = None, **data: Any
    ) -> None:
        res = self.crm.records.update(
            module, [data], actor=actor or self.actor(), record_id=record_id
        )[0]
        assert res["status"] == "success", res

    def delete(self, record_id: str, module: str = "Deals") -> None:
        res = self.crm.records.delete(module, [record_id], actor=self.actor())[0]
        assert res["status"] == "success", res

    def get(self, record_id: str, module: str = "Deals") -> dict[str, Any]:
        found = self.crm.records.get(module, record_id)
        assert found is not None
        return found

    # ---------------------------------------------------------------- observing

    def settle(self) -> None:
        assert self.queue.wait_idle(30), "jobs did not finish"

    def executions(self, function: str) -> list[dict[str, Any]]:
        """Oldest first."""
        return list(reversed(self.fx.executions.list(function=function, limit=100)))

    def activity(self, item: Item) -> list[dict[str, Any]]:
        """Oldest first."""
        return list(reversed(self.engine.activity(rule_id=item.id)))

    def jobs_with_key(self, prefix: str) -> int:
        T = sa.table("job_keys", sa.column("key"))
        with read_transaction(self.crm.engine) as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(T).where(T.c.key.like(prefix + "%"))
                ).scalar()
                or 0
            )

    def scheduled(self, record_id: str) -> list[Any]:
        T = auto_schema.scheduled_actions
        with read_transaction(self.crm.engine) as conn:
            return list(
                conn.execute(
                    sa.select(T).where(T.c.record_id == int(record_id)).order_by(T.c.id)
                ).all()
            )

    def advance(self, seconds: float) -> None:
        """Move the clock and run what became due (see the module docstring)."""
        self.clock.advance(seconds)
        if self.backend == "postgresql":
            self.run_scheduled()
        self.settle()

    def run_scheduled(self) -> None:
        """Deliver the due pending scheduled rows to the handler (PostgreSQL: procrastinate
        keeps them for the database's real time)."""
        T = auto_schema.scheduled_actions
        now = self.crm.now_ms()
        with read_transaction(self.crm.engine) as conn:
            rows = conn.execute(
                sa.select(T.c.id, T.c.rule_id, T.c.event_id, T.c.action_index)
                .where(T.c.status == "pending", T.c.due_ms <= now)
                .order_by(T.c.due_ms, T.c.id)
            ).all()
        for r in rows:
            key = (
                f"date:{r.id}"
                if r.action_index is None
                else f"wf:{r.rule_id}:{r.event_id}:{r.action_index}"
            )
            self.engine.handle(job(key, {"scheduled_id": str(r.id)}))
        self.settle()


def job(key: str | None, args: dict[str, Any], *, recovered: bool = False) -> Job:
    return Job(
        id="test-" + secrets.token_hex(4),
        task=TASK,
        args=args,
        key=key,
        attempt=2 if recovered else 1,
        recovered=recovered,
        run_at_ms=None,
        enqueued_ms=0,
    )


@contextmanager
def workflow_env(backend: str, tmp: Path, **settings_kw: Any) -> Iterator[Env]:
    clock = Clock()
    settings = Settings(
        invokeurl_allow=["127.0.0.1"],
        job_poll_interval_s=0.05,
        webhook_timeout_s=2.0,
        **settings_kw,
    )
    with open_test_crm(backend, tmp / "crm", clock=clock) as crm:
        fx = Functions(crm, settings)
        queue = open_queue(crm.engine, settings, clock=crm.clock)
        store = AutomationStore(crm, fx)
        hooks = Webhooks(crm, fx, queue, settings)
        hooks.attach()
        engine = WorkflowEngine(crm, fx, store, queue, settings, webhooks=hooks)
        engine.attach()
        queue.start(concurrency=1)
        try:
            yield Env(backend, crm, fx, queue, store, engine, hooks, clock)
        finally:
            queue.stop()
            engine.close()


def clear_rules(env: Env) -> None:
    """Remove every workflow rule (tests of one module share the org)."""
    env.settle()
    for item in env.store.list("workflow"):
        env.store.delete("workflow", item.id)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 recording what it receives."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@contextmanager
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

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
            self.send_response(200)
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
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
