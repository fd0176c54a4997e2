"""Workflow function actions when a ``floodway worker`` process is killed with SIGKILL, end to end:
real worker processes on a fresh database (PostgreSQL through procrastinate, and the embedded
queue on a shared SQLite file), the outside service a real HTTP server on 127.0.0.1 that counts
the calls the function makes with ``invokeurl``.

The test process writes the records itself, with automation attached as ``build_runtime`` builds
it (so the record change enqueues its action jobs in the write's transaction) but with its queue
never started: only the worker processes run jobs. Workers run with a 0.5 s heartbeat and jobs
judged stalled after 2 s, so a killed worker's job is recovered within a few seconds.

- Killed before it takes the job: the job waits in the queue and the next worker runs the
  action exactly once.
- Killed while the function waits for its ``invokeurl`` answer: the recovered job does not run
  the function again; the execution becomes a failure with error kind ``interrupted``, which
  can be rerun by hand.
- Killed in the first of a change's two actions: the recovered job reports the function
  interrupted and makes the second action (a field update) once.
"""

from __future__ import annotations

import collections
import contextlib
import http.server
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from floodway.automation import schema as auto_schema
from floodway.automation.store import Item
from floodway.crm.service import Actor
from floodway.crm.testing import temporary_postgres_database
from floodway.db import read_transaction
from floodway.server import Runtime, build_runtime, open_crm
from floodway.settings import Settings

CLI = [sys.executable, "-m", "floodway.cli"]
START_TIMEOUT_S = 60.0
WAIT_S = 30.0  # an upper bound only: a busy machine starts processes slowly
WORKER_ENV = {
    "FLOODWAY_INVOKEURL_ALLOW": "127.0.0.1",
    "FLOODWAY_JOB_HEARTBEAT_S": "0.5",
    "FLOODWAY_JOB_STALLED_AFTER_S": "2",
    "FLOODWAY_JOB_POLL_INTERVAL_S": "0.2",
}

T = TypeVar("T")


# ---- the outside service ---------------------------------------------------------------------


class CountingService:
    """An HTTP service on 127.0.0.1 that notes every request path. With ``hold_first`` it does
    not answer the first request until released (the caller is then stuck in ``invokeurl``);
    later requests are answered at once."""

    def __init__(self, *, hold_first: bool = False) -> None:
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._hold_first = hold_first
        self.release = threading.Event()
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with service._lock:
                    service.paths.append(self.path)
                    hold = service._hold_first and len(service.paths) == 1
                if hold:
                    service.release.wait(60)
                body = b"ok"
                with contextlib.suppress(OSError):  # the caller may be gone (killed)
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def calls(self, record_id: str) -> int:
        with self._lock:
            return sum(1 for p in self.paths if p == f"/hook/{record_id}")

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


# ---- worker processes ------------------------------------------------------------------------


@dataclass
class Worker:
    proc: subprocess.Popen[str]
    lines: collections.deque[str]

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash or a lost machine."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


class Workers:
    """``floodway worker`` processes of one org; whatever is left is killed at teardown."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.started: list[Worker] = []

    def start(self) -> Worker:
        proc = subprocess.Popen(
            [*CLI, "worker", *self.args, "--concurrency", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **WORKER_ENV},
        )
        lines: collections.deque[str] = collections.deque(maxlen=300)
        ready: queue.Queue[bool] = queue.Queue()

        def pump() -> None:  # drains the pipe so the worker never blocks on a full one
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                if "worker running" in line:
                    ready.put(True)
            ready.put(False)

        threading.Thread(target=pump, daemon=True).start()
        worker = Worker(proc, lines)
        self.started.append(worker)
        try:
            ok = ready.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            ok = False
        assert ok, "the worker did not start:\n" + self.logs()
        return worker

    def logs(self) -> str:
        return "\n".join(
            f"--- worker {w.proc.pid} ---\n" + "\n".join(w.lines) for w in self.started
        )

    def close(self) -> None:
        for worker in self.started:
            if worker.proc.poll() is None:
                worker.proc.kill()
            worker.proc.wait(timeout=10)


# ---- the org ---------------------------------------------------------------------------------


@dataclass
class Org:
    backend: str
    runtime: Runtime
    workers: Workers
    service: CountingService
    function: str
    rule: Item

    @property
    def fx(self) -> Any:
        return self.runtime.functions

    def create_deal(self) -> str:
        crm = self.runtime.crm
        actor = Actor(str(crm.primary_admin_id), "api", True)
        record = {"Deal_Name": "Deal " + secrets.token_hex(3), "Stage": "Qualification"}
        [result] = crm.records.create("Deals", [record], actor=actor)
        assert result["status"] == "success", result
        return str(result["details"]["id"])

    def executions(self, record_id: str) -> list[dict[str, Any]]:
        """The rule's executions for the record (reruns are manual, not the rule's)."""
        rows = self.fx.executions.list(function=self.function, limit=100)
        return [
            r
            for r in rows
            if r["trigger"].get("rule_id") == self.rule.id
            and r["trigger"].get("record_id") == record_id
        ]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.runtime.queue.counts()
        return counts

    def settled(self) -> bool:
        counts = self.counts()
        return counts["todo"] == 0 and counts["doing"] == 0

    def action_runs(self) -> list[Any]:
        T = auto_schema.action_runs
        with read_transaction(self.runtime.crm.engine) as conn:
            return list(conn.execute(sa.select(T).where(T.c.key.like(f"wf:{self.rule.id}:%"))))

    def wait(self, what: str, probe: Callable[[], T | None], timeout: float = WAIT_S) -> T:
        """Poll ``probe`` until it returns something truthy; fail naming ``what`` at the
        deadline with what the workers printed."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {timeout:.0f} s waiting for {what}; queue {self.counts()}"
                    f"\n{self.workers.logs()}",
                    pytrace=False,
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)


@contextlib.contextmanager
def _database(backend: str) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None  # the data directory's own SQLite file
        return
    with temporary_postgres_database() as url:
        yield url


def _source(api_name: str, service_url: str) -> str:
    return (
        f"void automation.{api_name}(String dealId)\n"
        "{\n"
        f'    response = invokeurl [ url: "{service_url}/hook/" + dealId type: GET ];\n'
        '    info "answered: " + response;\n'
        "}\n"
    )


@contextlib.contextmanager
def _org(
    backend: str, tmp_path: Path, *, hold_first: bool, then: list[dict[str, Any]] | None = None
) -> Iterator[Org]:
    """``then``: actions of the rule after its function action."""
    service = CountingService(hold_first=hold_first)
    try:
        with _database(backend) as url:
            data = tmp_path / "data"
            settings = Settings(data=data, database_url=url, invokeurl_allow=["127.0.0.1"])
            opened = open_crm(settings)
            runtime = build_runtime(opened, settings)  # its queue is never started here
            workers = Workers(["--data", str(data), *(["--database-url", url] if url else [])])
            try:
                api_name = "notify_" + secrets.token_hex(3)
                fx = runtime.functions
                fx.registry.create(_source(api_name, service.url), publish=True)
                rule = runtime.automation.store.create(
                    "workflow",
                    {
                        "name": "Notify the service",
                        "module": "Deals",
                        "on": "create",
                        "actions": [
                            {"function": api_name, "arguments": {"dealId": "${Deals.id}"}},
                            *(then or []),
                        ],
                    },
                )
                yield Org(backend, runtime, workers, service, api_name, rule)
            finally:
                workers.close()
                runtime.automation.close()
                runtime.crm.engine.dispose()
    finally:
        service.close()


BACKENDS = ["postgresql", "sqlite"]


# ---- killed before taking the job ------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_action_committed_while_the_worker_is_dead_runs_exactly_once_on_the_next_worker(
    backend: str, tmp_path: Path
) -> None:
    with _org(backend, tmp_path, hold_first=False) as org:
        first = org.workers.start()
        warm_up = org.create_deal()  # the first worker is up and takes jobs
        org.wait("the first worker's action", lambda: org.service.calls(warm_up) == 1)
        org.wait("the first job to finish", org.settled)
        first.kill()

        deal = org.create_deal()  # commits while no worker runs
        assert org.counts()["todo"] == 1, org.counts()  # the job was written with the record
        assert org.service.calls(deal) == 0

        org.workers.start()
        [run] = org.wait(
            "the action on the next worker",
            lambda: [r for r in org.executions(deal) if r["status"] != "running"],
        )
        org.wait("the queue to settle", org.settled)
        assert run["status"] == "success", run["error"]
        assert run["info"] == ["answered: ok"]
        assert org.service.calls(deal) == 1  # exactly once
        assert len(org.executions(deal)) == 1
        counts = org.counts()
        assert (counts["succeeded"], counts["failed"]) == (2, 0), counts
        runs = {r.key: r for r in org.action_runs()}
        assert len(runs) == 2 and all(r.finished_ms is not None for r in runs.values())
        activity = org.runtime.automation.engine.activity(rule_id=org.rule.id, record_id=deal)
        assert activity == []  # nothing interrupted or skipped


# ---- killed while the function runs ----------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_function_cut_off_by_a_killed_worker_is_interrupted_not_run_again(
    backend: str, tmp_path: Path
) -> None:
    with _org(backend, tmp_path, hold_first=True) as org:
        first = org.workers.start()
        deal = org.create_deal()
        org.wait("the function's request", lambda: org.service.calls(deal) == 1)
        # The run lasted long enough to be shown as running; kill the worker in the middle.
        [running] = org.wait(
            "the running execution",
            lambda: [r for r in org.executions(deal) if r["status"] == "running"],
        )
        first.kill()
        assert org.counts()["doing"] == 1, org.counts()  # left behind by the dead worker

        org.workers.start()
        [run] = org.wait(
            "the interrupted execution",
            lambda: [r for r in org.executions(deal) if r["status"] != "running"],
        )
        org.wait("the queue to settle", org.settled)
        assert run["id"] == running["id"]  # the same execution, ended
        assert run["status"] == "failure"
        assert run["error"]["kind"] == "interrupted", run["error"]
        assert org.service.calls(deal) == 1  # not run again blindly
        assert len(org.executions(deal)) == 1
        counts = org.counts()
        assert (counts["todo"], counts["doing"], counts["failed"]) == (0, 0, 0), counts
        [mark] = org.action_runs()
        assert mark.finished_ms is not None and str(mark.execution_id) == run["id"]
        engine = org.runtime.automation.engine
        assert engine.pending("Deals", deal) == []
        [entry] = engine.activity(rule_id=org.rule.id, record_id=deal)
        assert (entry["status"], entry["execution_id"]) == ("interrupted", run["id"]), entry

        again = org.fx.executor.rerun(run["id"])
        assert again.status == "success", again.error
        rerun = org.fx.executions.get(again.id)
        assert rerun["rerun_of"] == run["id"]
        assert rerun["arguments"] == {"dealId": deal}
        assert org.service.calls(deal) == 2  # the rerun's own call, answered this time


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_actions_after_a_cut_off_function_run_once_on_the_next_worker(
    backend: str, tmp_path: Path
) -> None:
    """One job carries both actions of the change: the recovered job reports the function
    interrupted and still makes the field update, once."""
    then = [{"field_update": {"Description": "after the call"}}]
    with _org(backend, tmp_path, hold_first=True, then=then) as org:
        first = org.workers.start()
        deal = org.create_deal()
        org.wait("the function's request", lambda: org.service.calls(deal) == 1)
        org.wait(
            "the running execution",
            lambda: [r for r in org.executions(deal) if r["status"] == "running"],
        )
        first.kill()
        crm = org.runtime.crm
        assert crm.records.get("Deals", deal).get("Description") is None  # not reached yet

        org.workers.start()
        org.wait(
            "the field update on the next worker",
            lambda: crm.records.get("Deals", deal).get("Description") == "after the call",
        )
        org.wait("the queue to settle", org.settled)
        [run] = org.executions(deal)
        assert (run["status"], run["error"]["kind"]) == ("failure", "interrupted")
        assert org.service.calls(deal) == 1
        marks = sorted(org.action_runs(), key=lambda r: r.key)
        assert [m.key.rsplit(":", 1)[1] for m in marks] == ["0", "1"]
        assert all(m.finished_ms is not None for m in marks)
        entries = org.runtime.automation.engine.activity(rule_id=org.rule.id, record_id=deal)
        assert sorted((e["action_index"], e["status"]) for e in entries) == [
            (0, "interrupted"),
            (1, "success"),
        ]
        counts = org.counts()
        assert (counts["todo"], counts["doing"], counts["failed"]) == (0, 0, 0), counts
