"""What the HTTP benchmarks share: a live ``floodway serve`` on 127.0.0.1 (any free port) in a
temporary data directory with the rate limit off, a self client and its access token, a fresh
PostgreSQL database created and dropped around a run, and percentiles. Traffic stays on
127.0.0.1.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

CLI = [sys.executable, "-m", "floodway.cli"]
HOST = "127.0.0.1"
PG_SERVER = "host=127.0.0.1 port=5432 user=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 120.0
SERVER_LOG_LINES = 200


class BenchmarkError(Exception):
    """The server did not start or answered a request unexpectedly."""


# ---- the server -----------------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str
    log: collections.deque[str]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def tail(self) -> str:
        return "\n".join(self.log)


def server_env() -> dict[str, str]:
    return {**os.environ, "FLOODWAY_RATE_LIMIT_PER_S": "0", "PYTHONUNBUFFERED": "1"}


def cli_json(*args: str) -> Any:
    """Run a ``floodway`` command that prints JSON (``clients create``, ``apikey``)."""
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=server_env(), timeout=START_TIMEOUT_S
    )
    if done.returncode != 0:
        raise BenchmarkError(f"floodway {' '.join(args[:2])} failed:\n{done.stderr}")
    return json.loads(done.stdout)


@contextlib.contextmanager
def running_server(data: Path, db_args: list[str]) -> Iterator[Server]:
    """``floodway serve`` on 127.0.0.1 and a free port; stopped on leaving, errors included."""
    proc = subprocess.Popen(
        [*CLI, "serve", "--host", HOST, "--port", "0", "--data", str(data), *db_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=server_env(),
    )
    log: collections.deque[str] = collections.deque(maxlen=SERVER_LOG_LINES)
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:  # drains the pipe so the server never blocks on a full one
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line.rstrip("\n"))
            if "serving on " in line:
                found.put(line.rsplit("serving on ", 1)[1].strip())

    threading.Thread(target=pump, daemon=True).start()
    server = Server(proc, "", log)
    try:
        try:
            server.url = found.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            raise BenchmarkError("floodway serve did not start:\n" + server.tail()) from None
        if urlsplit(server.url).hostname != HOST:
            raise BenchmarkError(f"the server listens on {server.url}, not on {HOST}")
        wait_healthy(server)
        yield server
    finally:
        server.stop()


def wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            break
        try:
            if httpx.get(f"{server.url}/health", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise BenchmarkError("floodway serve is not answering:\n" + server.tail())


def access_token(url: str, client: dict[str, str]) -> str:
    response = httpx.post(
        f"{url}/oauth/v2/token",
        data={"grant_type": "refresh_token", **client},
        timeout=REQUEST_TIMEOUT_S,
        trust_env=False,
    )
    if response.status_code != 200:
        raise BenchmarkError(f"token request failed: {response.status_code} {response.text}")
    token: str = response.json()["access_token"]
    return token


def http_client(url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=url,
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
        timeout=REQUEST_TIMEOUT_S,
        trust_env=False,  # no proxy: the traffic stays on 127.0.0.1
    )


@contextlib.contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh database on 127.0.0.1:5432 (its SQLAlchemy URL), dropped afterwards; None if the
    server cannot be reached."""
    try:
        import psycopg
    except ImportError as exc:
        print(f"note: PostgreSQL skipped, psycopg is not installed ({exc})")
        yield None
        return
    name = "floodway_bench_" + secrets.token_hex(4)
    try:
        with psycopg.connect(
            f"{PG_SERVER} dbname=postgres", autocommit=True, connect_timeout=5
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        print(f"note: PostgreSQL skipped, 127.0.0.1:5432 is unreachable ({exc})".strip())
        yield None
        return
    try:
        yield PG_URL.format(name=name)
    finally:
        with psycopg.connect(
            f"{PG_SERVER} dbname=postgres", autocommit=True, connect_timeout=5
        ) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')


def percentile(samples: list[float], p: int) -> float:
    """The p-th percentile (1..99) of samples, in the same unit."""
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


# ---- results ---------------------------------------------------------------------------------


@dataclass
class Results:
    """A titled table of measurements; ``check`` marks a must figure met or missed."""

    title: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def add(self, metric: str, value: str, must: str = "") -> None:
        self.rows.append((metric, value, must))

    def check(self, metric: str, value: str, ok: bool, requirement: str) -> None:
        self.add(metric, value, f"{requirement}: {'met' if ok else '**MISSED**'}")
        if not ok:
            self.missed.append(f"{self.title}: {metric} = {value} (must {requirement})")

    def table(self) -> str:
        lines = [f"### {self.title}", "", "| metric | value | must |", "| --- | ---: | --- |"]
        lines += [f"| {m} | {v} | {r} |" for m, v, r in self.rows]
        return "\n".join(lines)


def verdict(all_results: Sequence[Any]) -> int:
    """Print which must figures were missed (each result's ``missed``): the exit code, 1 if any."""
    missed = [m for r in all_results for m in r.missed]
    if missed:
        print("must figures missed:\n  " + "\n  ".join(missed))
        return 1
    print("all must figures met")
    return 0
