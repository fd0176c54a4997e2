"""Shared by the scenario tests: the example project, real ``floodway`` processes on 127.0.0.1,
a small REST client and polling with a deadline.

The outside services of the scenarios (project management, accounting) are the demo's
stand-ins (``floodway.demo.DemoServices``): real HTTP servers on 127.0.0.1 in the test process.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from floodway.crm.testing import crm  # noqa: F401  (fixture: one org per module and backend)
from floodway.demo import DemoServices

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "crm-scenarios"
CLI = [sys.executable, "-m", "floodway.cli"]
START_TIMEOUT_S = 90.0
EFFECT_TIMEOUT_S = 45.0  # a workflow action runs "as soon as a worker takes it"

T = TypeVar("T")


def cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """One ``floodway`` command as a user runs it."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def cli_json(*args: str, env: Mapping[str, str] | None = None) -> Any:
    done = cli(*args, env=env)
    assert done.returncode == 0, f"floodway {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


@dataclass
class Process:
    """A ``floodway serve`` or ``floodway worker`` process and its last output lines."""

    name: str
    proc: subprocess.Popen[str]
    lines: collections.deque[str]

    def tail(self) -> str:
        return f"--- {self.name} ---\n" + "\n".join(self.lines)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9


def start_process(
    name: str, args: list[str], ready: str, env: Mapping[str, str]
) -> tuple[Process, str]:
    """Start ``floodway <args>`` and wait for the line containing ``ready``; returns the process
    and the rest of that line (the URL for ``serving on``)."""
    proc = subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )
    lines: collections.deque[str] = collections.deque(maxlen=300)
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:  # drains the pipe so the process never blocks on a full one
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if ready in line:
                found.put(line.split(ready, 1)[1].strip())

    threading.Thread(target=pump, daemon=True).start()
    process = Process(name, proc, lines)
    try:
        rest = found.get(timeout=START_TIMEOUT_S)
    except queue.Empty:
        process.stop()
        pytest.fail(f"floodway {name} did not start:\n{process.tail()}", pytrace=False)
    return process, rest


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = EFFECT_TIMEOUT_S,
    *,
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    last: Any = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            extra = f"\n{diagnose()}" if diagnose is not None else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{extra}", pytrace=False)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


class Api:
    """The REST API as an integration uses it: OAuth access token, JSON bodies."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Zoho-oauthtoken {token}"},
            timeout=60,
            trust_env=False,
        )

    def close(self) -> None:
        self.http.close()

    def create(self, module: str, record: dict[str, Any]) -> str:
        response = self.http.post(f"/crm/v8/{module}", json={"data": [record]})
        assert response.status_code in (200, 201), response.text
        item = response.json()["data"][0]
        assert item["status"] == "success", item
        return str(item["details"]["id"])

    def update(self, module: str, record_id: str, values: dict[str, Any]) -> None:
        response = self.http.put(f"/crm/v8/{module}/{record_id}", json={"data": [values]})
        assert response.status_code == 200, response.text
        item = response.json()["data"][0]
        assert item["status"] == "success", item

    def get(self, module: str, record_id: str) -> dict[str, Any]:
        response = self.http.get(f"/crm/v8/{module}/{record_id}")
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()["data"][0]
        return record

    def executions(self, function: str) -> list[dict[str, Any]]:
        response = self.http.get("/api/executions", params={"function": function})
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["executions"]
        return rows


@pytest.fixture(scope="module")
def services() -> Iterator[DemoServices]:
    """The project-management and accounting services, on 127.0.0.1."""
    with DemoServices.start() as running:
        yield running
