"""The processes that run jobs: ``floodway worker`` and ``floodway serve`` with and without its
in-process worker, as real subprocesses on 127.0.0.1 (SQLite data directory)."""

from __future__ import annotations

import datetime as dt
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floodway.automation.store import AutomationStore
from floodway.functions.service import Functions
from floodway.server import open_crm
from floodway.settings import Settings

from ..api.test_serve import start_server

CLI = [sys.executable, "-m", "floodway.cli"]
SOURCE = """void schedule.classify_accounts()
{
    info "classifying";
}
"""


class Org:
    """The org of a data directory, opened in the test process to set up and to look."""

    def __init__(self, data: Path) -> None:
        settings = Settings(data=data)
        self.opened = open_crm(settings)
        self.fx = Functions(self.opened.crm, settings)
        self.fx.registry.create(SOURCE, publish=True)
        self.store = AutomationStore(self.opened.crm, self.fx)

    def schedule_in(self, seconds: int, name: str = "Classify") -> dt.datetime:
        due = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).replace(microsecond=0)
        self.store.create(
            "schedule",
            {
                "name": name,
                "function": "classify_accounts",
                "timezone": "UTC",
                "once": due.strftime("%Y-%m-%dT%H:%M:%S"),
            },
        )
        return due

    def runs(self) -> list[dict[str, Any]]:
        return self.fx.executions.list(function="classify_accounts")

    def wait_runs(self, n: int, timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            runs = self.runs()
            if len(runs) >= n:
                return runs
            time.sleep(0.2)
        return self.runs()


@pytest.fixture
def org(tmp_path: Path) -> Iterator[tuple[Org, Path]]:
    data = tmp_path / "data"
    o = Org(data)
    yield o, data
    o.opened.crm.engine.dispose()


def _wait_past(due: dt.datetime, seconds: float) -> None:
    left = (due - dt.datetime.now(dt.UTC)).total_seconds() + seconds
    if left > 0:
        time.sleep(left)


def start_worker(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [*CLI, "worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    started: queue.Queue[bool] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "worker running" in line:
                started.put(True)
        started.put(False)

    threading.Thread(target=pump, daemon=True).start()
    ok = started.get(timeout=60)
    assert ok, "\n".join(lines)
    return proc, lines


def test_worker_runs_due_schedule_and_stops_cleanly_on_sigterm(org: tuple[Org, Path]) -> None:
    o, data = org
    proc, lines = start_worker("--data", str(data), "--concurrency", "2")
    try:
        due = o.schedule_in(3)
        runs = o.wait_runs(1, 15)
        assert len(runs) == 1, "\n".join(lines)
        assert runs[0]["status"] == "success"
        assert runs[0]["trigger"] == {"type": "schedule", "schedule": "Classify"}
        started = dt.datetime.fromisoformat(runs[0]["started_at"].replace("Z", "+00:00"))
        assert started >= due
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0, "\n".join(lines)
    assert any("worker stopped" in line for line in lines)
    assert not any("Traceback" in line for line in lines), "\n".join(lines)


def test_worker_without_a_reachable_database_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *CLI,
            "worker",
            "--data",
            str(tmp_path / "data"),
            "--database-url",
            "postgresql+psycopg://floodway:secret@127.0.0.1:1/floodway",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "error: cannot open the database" in result.stderr
    assert "127.0.0.1:1" in result.stderr
    assert "secret" not in result.stderr  # the password is not shown
    assert "Traceback" not in result.stderr + result.stdout


def test_serve_no_worker_leaves_jobs_to_a_worker_and_serve_runs_them(
    org: tuple[Org, Path],
) -> None:
    o, data = org
    due = o.schedule_in(3)
    server = start_server("--data", str(data), "--no-worker")
    try:
        _wait_past(due, 2.5)
        assert o.runs() == []  # planned by nobody, run by nobody
    finally:
        assert server.stop() == 0, "\n".join(server.lines)
    o.schedule_in(5, name="Classify later")
    server = start_server("--data", str(data))  # with its in-process worker
    try:
        runs = o.wait_runs(1, 15)
        assert any("missed" in line for line in server.lines)  # the first one, logged
    finally:
        assert server.stop() == 0, "\n".join(server.lines)
    assert len(runs) == 1, "\n".join(server.lines)
    assert runs[0]["status"] == "success"
    assert runs[0]["trigger"]["schedule"] == "Classify later"


def test_serve_demo_installs_the_example_and_runs_its_rules(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server("--data", str(data), "--demo")
    try:
        assert any("demo installed" in line for line in server.lines), server.lines
        org = Org.__new__(Org)  # look only: the demo owns the functions
        settings = Settings(data=data)
        org.opened = open_crm(settings)
        org.fx = Functions(org.opened.crm, settings)
        deadline = time.monotonic() + 20
        triggers: set[str] = set()
        while time.monotonic() < deadline and "workflow" not in triggers:
            triggers = {r["trigger"]["type"] for r in org.fx.executions.list(limit=50)}
            time.sleep(0.2)
        org.opened.crm.engine.dispose()
    finally:
        assert server.stop() == 0, "\n".join(server.lines)
    assert "workflow" in triggers  # the won deal's rules ran on serve's own worker


def test_stalled_running_executions_are_marked_interrupted(org: tuple[Org, Path]) -> None:
    import sqlalchemy as sa

    from floodway.db import write_transaction
    from floodway.functions import schema as fs
    from floodway.functions.running import interrupt_abandoned_runs

    o, _ = org
    crm = o.opened.crm
    trigger = {"type": "schedule", "schedule": "Classify"}
    old = o.fx.executor.skip("classify_accounts", trigger, "stand-in")
    recent = o.fx.executor.skip("classify_accounts", trigger, "stand-in")
    now = crm.now_ms()
    E = fs.executions
    with write_transaction(crm.engine) as conn:  # left running by processes that are gone
        for eid, started in ((old, now - 3600_000), (recent, now - 5_000)):
            conn.execute(
                E.update()
                .where(E.c.id == int(eid))
                .values(status="running", error=None, started_time=started)
            )
    assert interrupt_abandoned_runs(o.fx) == 1
    stalled = o.fx.executions.get(old)
    assert stalled["status"] == "failure"
    assert stalled["error"]["kind"] == "interrupted"
    assert o.fx.executions.get(recent)["status"] == "running"  # may still be going
    with crm.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(E)).scalar() == 2
