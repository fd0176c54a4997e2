"""SB-10: audit events for processes, sockets and native code abort a running script."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from floodway.deluge import compile_program, run
from floodway.deluge import operators as ops
from floodway.deluge.tripwire import ARMED, TripwireError, install
from floodway.functions.standalone_host import StandaloneHost
from floodway.settings import load_settings


def test_sb10_armed_thread_trips_on_a_process_event() -> None:
    install()  # what importing the runtime does
    token = ARMED.set(True)
    try:
        with pytest.raises(TripwireError):
            sys.audit("subprocess.Popen", "/bin/sh", ["sh"], None, None)
    finally:
        ARMED.reset(token)


def test_sb10_disarmed_thread_is_left_alone() -> None:
    sys.audit("subprocess.Popen", "/bin/sh", ["sh"], None, None)  # no exception


def test_sb10_event_during_a_run_is_an_internal_error_and_a_security_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def sneaky_eq(a: Any, b: Any) -> bool:  # stands for a built-in reaching the OS
        sys.audit("os.system", b"id")
        return False

    monkeypatch.setattr(ops, "eq", sneaky_eq)
    host = StandaloneHost(tmp_path, load_settings())
    with caplog.at_level(logging.ERROR, logger="floodway.security"):
        result = run(compile_program('x = "a" == 1;\nreturn x;'), {}, host)
    assert result.status == "failure"
    assert result.error is not None and result.error.kind == "internal"
    assert result.error.message.startswith("Internal error (reference ")
    assert result.error.line == 1
    assert any("security tripwire" in r.getMessage() for r in caplog.records)


def test_sb10_host_calls_are_not_watched(tmp_path: Path) -> None:
    # getUrl opens a socket inside the host: the wire is off there, so only the policy answers.
    host = StandaloneHost(tmp_path, load_settings())
    result = run(
        compile_program('try { getUrl("http://127.0.0.1:9/"); } catch (e) { info e; }'), {}, host
    )
    assert result.status == "success"
    assert result.info[0].startswith("invokeurl")
