"""A run lasting longer than a moment has a `running` record while it goes on; its end updates
that record. Short runs write one row only (functions.running)."""

from __future__ import annotations

import secrets
import threading
import time
from types import SimpleNamespace
from typing import Any

from floodway.crm.testing import fresh_crm  # noqa: F401  (fixture)
from floodway.functions.service import Functions

SLOW = """string standalone.{name}()
{{
    thousand = "".leftpad(1000).toList("");
    total = 0;
    for each index i in thousand
    {{
        for each index j in thousand
        {{
            for each index k in {{1, 2, 3}}
            {{
                total = total + k;
            }}
        }}
    }}
    return "done " + total;
}}"""


def test_long_run_is_recorded_as_running_then_finished(fresh_crm: Any) -> None:  # noqa: F811
    fx = Functions(fresh_crm, SimpleNamespace(running_record_after_s=0.05, statement_limit=10**8))
    name = "slow_" + secrets.token_hex(4)
    fx.registry.create(SLOW.format(name=name), publish=True)
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(fx.run(name)))
    worker.start()
    seen_running = []
    deadline = time.monotonic() + 30
    while worker.is_alive() and time.monotonic() < deadline:
        rows = fx.executions.list(function=name, status="running")
        if rows:
            seen_running = rows
        time.sleep(0.02)
    worker.join()
    (result,) = results
    assert result.status == "success" and result.output == "done 3000000"
    assert seen_running and seen_running[0]["id"] == result.id
    (final,) = fx.executions.list(function=name)
    assert final["id"] == result.id and final["status"] == "success"
    assert final["statements"] > 1_000_000


def test_short_run_writes_one_finished_row(fresh_crm: Any) -> None:  # noqa: F811
    fx = Functions(fresh_crm, SimpleNamespace(running_record_after_s=30.0))
    name = "quick_" + secrets.token_hex(4)
    fx.registry.create(f'string standalone.{name}() {{ return "ok"; }}', publish=True)
    result = fx.run(name)
    (row,) = fx.executions.list(function=name)
    assert row["id"] == result.id and row["status"] == "success"
    assert fx.executions.list(function=name, status="running") == []
