"""A real ``floodway serve`` process, driven by the official Zoho SDKs, on SQLite and PostgreSQL.

The CLI commands around it are exercised the way a user runs them: ``clients create`` before the
first ``serve`` initialises the data directory, ``serve`` reuses it, SIGTERM stops it cleanly.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).parent
CLI = [sys.executable, "-m", "floodway.cli"]
START_TIMEOUT_S = 60


def run_cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, input=input, check=False
    )


@dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str
    port: int
    lines: list[str]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def start_server(*args: str) -> Server:
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "serving on " in line:
                found.put(line.rsplit("serving on ", 1)[1].strip())

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = found.get(timeout=START_TIMEOUT_S)
    except queue.Empty:
        proc.kill()
        proc.wait()
        pytest.fail("floodway serve did not start:\n" + "\n".join(lines), pytrace=False)
    port = int(url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("floodway serve is not answering:\n" + "\n".join(lines), pytrace=False)
        time.sleep(0.1)
    return Server(proc, url, port, lines)


def _reset_pg(url: str) -> None:
    from .conftest import _reset_pg as reset

    reset(url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str], str]]:
    data = tmp_path_factory.mktemp("served") / "data"  # does not exist yet
    db_args: list[str] = []
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
        _reset_pg(url)
        db_args = ["--database-url", url]
    # A command before the first serve initialises the data directory and the database.
    created = run_cli("clients", "create", "sdk-test", "--data", str(data), "--json", *db_args)
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    assert set(client) == {"client_id", "client_secret", "refresh_token"}
    assert "password" in created.stderr  # the first initialisation shows the admin password
    server = start_server("--data", str(data), *db_args)
    assert not any("password" in line for line in server.lines)  # reused, not re-created
    token = httpx.post(
        f"{server.url}/oauth/v2/token",
        data={"grant_type": "refresh_token", **client},
    ).json()["access_token"]
    me = httpx.get(
        f"{server.url}/crm/v8/users?type=CurrentUser",
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
    ).json()["users"][0]
    yield server, client, me["email"]
    code = server.stop()
    assert code == 0, "\n".join(server.lines)


def _run_sdk(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(HERE / "sdk_clients" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.strip().splitlines()[-1].startswith("OK"), output
    return output


def test_sdk_v8(served: Any, tmp_path: Path) -> None:
    server, client, _ = served
    _run_sdk("v8_client.py", str(server.port), json.dumps(client), str(tmp_path))


def test_sdk_v2(served: Any, tmp_path: Path) -> None:
    server, client, email = served
    _run_sdk("v2_client.py", str(server.port), json.dumps(client), email, str(tmp_path))


def test_first_serve_prints_password_then_reuses(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    first = start_server("--data", str(data))
    try:
        text = "\n".join(first.lines)
        assert "password:" in text and "email:" in text
        assert first.url.startswith("http://127.0.0.1:")
    finally:
        assert first.stop() == 0
    assert (data / "floodway.db").exists()
    second = start_server("--data", str(data))
    try:
        assert not any("password" in line for line in second.lines)
    finally:
        assert second.stop() == 0


def test_cli_commands(tmp_path: Path) -> None:
    data = tmp_path / "cli"
    key = run_cli("apikey", "--data", str(data), "--json")
    assert key.returncode == 0, key.stderr
    zapikey = json.loads(key.stdout)["zapikey"]
    assert zapikey.startswith("1003.")
    assert json.loads(run_cli("apikey", "--data", str(data), "--json").stdout)["zapikey"] == zapikey
    rotated = json.loads(run_cli("apikey", "--data", str(data), "--json", "--rotate").stdout)
    assert rotated["zapikey"] != zapikey
    migrated = run_cli("migrate", "--data", str(data))
    assert migrated.returncode == 0, migrated.stderr
    changed = run_cli(
        "users",
        "set-password",
        "admin@floodway.local",
        "--data",
        str(data),
        input="a much better passphrase 42\n",
    )
    assert changed.returncode == 0, changed.stderr
    unknown = run_cli(
        "users", "set-password", "nobody@example.com", "--data", str(data), input="whatever123456\n"
    )
    assert unknown.returncode != 0
    assert "Traceback" not in unknown.stderr


def test_sigterm_finishes_writes(tmp_path: Path) -> None:
    """Writes acknowledged before SIGTERM are all there after a restart."""
    data = tmp_path / "term"
    client = json.loads(run_cli("clients", "create", "t", "--data", str(data), "--json").stdout)
    server = start_server("--data", str(data))
    token = httpx.post(
        f"{server.url}/oauth/v2/token", data={"grant_type": "refresh_token", **client}
    ).json()["access_token"]
    auth = {"Authorization": f"Zoho-oauthtoken {token}"}
    acknowledged: list[str] = []
    errors: list[str] = []

    def writer() -> None:
        with httpx.Client(base_url=server.url, headers=auth, timeout=10) as http:
            for i in range(200):
                try:
                    r = http.post(
                        "/crm/v8/Accounts", json={"data": [{"Account_Name": f"term {i}"}]}
                    )
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    acknowledged.append(r.json()["data"][0]["details"]["id"])
                else:
                    errors.append(r.text)
                    return

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.5)
    assert server.stop() == 0
    thread.join()
    assert acknowledged, errors
    again = start_server("--data", str(data))
    try:
        for rid in acknowledged[-5:]:
            r = httpx.get(f"{again.url}/crm/v8/Accounts/{rid}", headers=auth)
            assert r.status_code == 200, rid
    finally:
        assert again.stop() == 0


def test_busy_port_and_readable_key_are_plain_errors(tmp_path: Path) -> None:
    from floodway.server import bind_socket

    busy = bind_socket("127.0.0.1", 0)
    try:
        port = str(busy.getsockname()[1])
        result = run_cli("serve", "--data", str(tmp_path / "d"), "--port", port)
    finally:
        busy.close()
    assert result.returncode == 1
    assert "cannot listen on 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr
    (tmp_path / "d" / "secret.key").chmod(0o644)
    result = run_cli("apikey", "--data", str(tmp_path / "d"), "--json")
    assert result.returncode == 1
    assert "chmod 600" in result.stderr
