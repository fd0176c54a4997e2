"""Schedules on the job queue: one run per due time, changes and disabling stop old times,
overlap is a skipped run, missed times run once with catch_up and are only logged without it,
a run cut short by a dead worker is reported interrupted, and two worker processes on PostgreSQL
run each due time once.

The single-process tests use SQLite's embedded queue with a controllable clock: the test ticks
the planner itself and moves the clock to the due times.
"""

from __future__ import annotations

import datetime as dt
import http.server
import logging
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from floodway.automation import schema as automation_schema
from floodway.automation.schedules import LATE_AFTER_MS, NOTHING_PLANNED, OVERLAP_REASON, Schedules
from floodway.automation.store import AutomationStore
from floodway.crm.testing import open_test_crm, temporary_postgres_database
from floodway.db import write_transaction
from floodway.functions.service import Functions
from floodway.jobs import open_queue
from floodway.settings import Settings

from .test_processes import start_worker

SOURCE = """void schedule.classify_accounts()
{
    info "classifying";
}
"""

UTC = dt.UTC


def ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, when: dt.datetime) -> None:
        self.now = when


@dataclass
class Env:
    crm: Any
    fx: Functions
    store: AutomationStore
    queue: Any
    schedules: Schedules
    clock: Clock

    def schedule(self, **table: Any) -> Any:
        base = {"name": "Classify", "function": "classify_accounts", "timezone": "UTC"}
        return self.store.create("schedule", {**base, **table})

    def step(self, when: dt.datetime) -> None:
        """Move the clock, let due jobs run, then plan (what the periodic tick does)."""
        self.clock.set(when)
        self.settle()
        self.schedules.tick()
        self.settle()

    def settle(self) -> None:
        assert self.queue.wait_idle(20), "jobs did not finish"

    def runs(self, status: str | None = None) -> list[dict[str, Any]]:
        return self.fx.executions.list(function="classify_accounts", status=status, limit=100)

    def state(self, item: Any) -> Any:
        S = automation_schema.schedule_state
        with self.crm.engine.connect() as conn:
            return conn.execute(sa.select(S).where(S.c.item_id == int(item.id))).first()


START = dt.datetime(2026, 3, 2, 10, 2, 30, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    clock = Clock(START)
    settings = Settings(job_poll_interval_s=0.05, invokeurl_allow=["127.0.0.1"])
    with open_test_crm("sqlite", tmp_path / "crm", clock=clock) as crm:
        fx = Functions(crm, settings)
        fx.registry.create(SOURCE, publish=True)
        store = AutomationStore(crm, fx)
        queue = open_queue(crm.engine, settings, clock=crm.clock)
        schedules = Schedules(crm, fx, store, queue, settings)
        schedules.attach(periodic=False)
        queue.start(concurrency=2)
        try:
            yield Env(crm, fx, store, queue, schedules, clock)
        finally:
            queue.stop()


def test_each_due_time_runs_once_as_a_schedule_execution(env: Env) -> None:
    item = env.schedule(cron="*/5 * * * *")
    env.schedules.tick()
    env.schedules.tick()  # a second planner (another worker) plans nothing new
    assert env.state(item).planned_ms == ms(START.replace(minute=5, second=0))
    env.step(START.replace(minute=4, second=59))
    assert env.runs() == []
    env.step(START.replace(minute=5, second=0))
    env.step(START.replace(minute=10, second=0))
    env.step(START.replace(minute=10, second=30))
    runs = env.runs()
    assert len(runs) == 2
    assert {r["status"] for r in runs} == {"success"}
    assert runs[0]["trigger"] == {"type": "schedule", "schedule": "Classify"}
    assert runs[0]["run_as"] == env.crm.primary_admin_id
    assert runs[0]["info"] == ["classifying"]


def test_two_planners_plan_one_run_per_due_time(env: Env) -> None:
    other = Schedules(env.crm, env.fx, env.store, env.queue, None)  # another process's planner
    env.schedule(every="15m")
    for _ in range(3):
        env.schedules.tick()
        other.tick()
    env.clock.set(START.replace(minute=15, second=0))
    env.settle()
    other.tick()
    env.schedules.tick()
    env.settle()
    assert len(env.runs()) == 1


def test_next_runs_lists_the_coming_due_times(env: Env) -> None:
    item = env.schedule(daily="02:00", timezone="Europe/Berlin")
    assert env.schedules.next_runs(item, 3) == [
        "2026-03-03T01:00:00.000Z",
        "2026-03-04T01:00:00.000Z",
        "2026-03-05T01:00:00.000Z",
    ]
    off = env.store.set_enabled("schedule", item.id, False)
    assert env.schedules.next_runs(off) == []


def test_changed_timing_stops_the_old_due_time(env: Env) -> None:
    item = env.schedule(cron="*/5 * * * *")
    env.schedules.tick()  # plans 10:05
    env.store.update(
        "schedule",
        item.id,
        {
            "name": "Classify",
            "function": "classify_accounts",
            "timezone": "UTC",
            "cron": "7 * * * *",
        },
    )
    env.schedules.tick()  # plans 10:07
    env.step(START.replace(minute=5, second=0))
    assert env.runs() == []  # the old 10:05 is not a due time any more
    env.step(START.replace(minute=7, second=0))
    assert len(env.runs()) == 1


def test_disabled_schedule_does_not_run_and_enabling_does_not_catch_up(env: Env) -> None:
    item = env.schedule(cron="*/5 * * * *", catch_up=True)
    env.schedules.tick()
    env.store.set_enabled("schedule", item.id, False)
    env.step(START.replace(minute=5, second=0))
    env.step(START.replace(hour=12, minute=0, second=30))
    assert env.runs() == []
    assert env.state(item) is None  # the plan is forgotten while disabled
    env.store.set_enabled("schedule", item.id, True)
    env.schedules.tick()
    env.settle()
    assert env.runs() == []  # disabled time is not "missed"
    env.step(START.replace(hour=12, minute=5, second=0))
    assert len(env.runs()) == 1


def test_deleted_schedule_does_not_run(env: Env) -> None:
    item = env.schedule(cron="*/5 * * * *")
    env.schedules.tick()
    env.store.delete("schedule", item.id)
    env.step(START.replace(minute=5, second=0))
    assert env.runs() == []


def test_once_schedule_runs_once(env: Env) -> None:
    item = env.schedule(once="2026-03-02T10:04")
    env.schedules.tick()
    env.step(START.replace(minute=4, second=0))
    env.step(START.replace(minute=30, second=0))
    env.step(START.replace(day=3))
    assert len(env.runs()) == 1
    assert env.state(item).planned_ms == NOTHING_PLANNED
    assert env.schedules.next_runs(item) == []


def test_missed_times_with_catch_up_run_once(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.schedule(cron="*/5 * * * *", catch_up=True)
    env.schedules.tick()  # 10:05 planned
    env.queue.stop()  # every worker is down ...
    env.clock.set(START.replace(hour=13, minute=1))  # ... for three hours
    caplog.set_level(logging.WARNING, "floodway.automation.schedules")
    env.queue.start(concurrency=2)  # a worker starts: the overdue 10:05 job fires first
    env.settle()
    env.schedules.tick()  # and the planner finds 10:10 ... 13:00 never planned
    env.settle()
    runs = env.runs()
    assert len(runs) == 1
    assert runs[0]["status"] == "success"
    assert "catch_up" in caplog.text
    env.step(START.replace(hour=13, minute=5))
    assert len(env.runs()) == 2  # and then on schedule again


def test_missed_times_without_catch_up_are_only_logged(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.schedule(cron="*/5 * * * *")
    env.schedules.tick()
    env.queue.stop()
    env.clock.set(START.replace(hour=13, minute=1))
    caplog.set_level(logging.WARNING, "floodway.automation.schedules")
    env.schedules.tick()  # here the planner notices first
    env.queue.start(concurrency=2)
    env.settle()
    assert env.runs() == []
    assert "missed" in caplog.text and "catch_up is off" in caplog.text
    env.step(START.replace(hour=13, minute=5))
    assert len(env.runs()) == 1


def test_a_planned_run_a_little_late_still_runs(env: Env) -> None:
    env.schedule(cron="*/5 * * * *")
    env.schedules.tick()
    env.queue.stop()
    due = START.replace(minute=5, second=0)
    env.clock.set(due + dt.timedelta(milliseconds=LATE_AFTER_MS - 1000))
    env.queue.start(concurrency=2)
    env.settle()
    assert len(env.runs()) == 1


@pytest.fixture
def slow_server() -> Iterator[tuple[str, threading.Event]]:
    """An HTTP server whose answer waits until the test releases it."""
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            release.wait(10)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slow", release
    release.set()
    server.shutdown()
    server.server_close()


def test_overlapping_run_is_skipped(env: Env, slow_server: tuple[str, threading.Event]) -> None:
    url, release = slow_server
    # The runs are driven by hand: the queue's workers must not take the planned jobs of the
    # same due times as the clock moves, or they race the runs under test.
    env.queue.stop()
    env.fx.registry.save(
        "classify_accounts",
        SOURCE.replace('info "classifying";', f'r = invokeurl [ url: "{url}" type: GET ];'),
        publish=True,
    )
    item = env.schedule(cron="*/5 * * * *")
    env.schedules.tick()
    first_due = ms(START.replace(minute=5, second=0))
    first = threading.Thread(target=env.schedules.run_due, args=(item.id, first_due))
    env.clock.set(START.replace(minute=5, second=0))
    first.start()
    deadline = time.monotonic() + 10
    while env.state(item).running_ms is None:  # the first run holds the schedule
        assert time.monotonic() < deadline
        time.sleep(0.01)
    env.clock.set(START.replace(minute=10, second=0))
    skipped_id = env.schedules.run_due(item.id, ms(START.replace(minute=10, second=0)))
    release.set()
    first.join(10)
    skipped = env.fx.executions.get(skipped_id)
    assert skipped["status"] == "skipped"
    assert skipped["error"]["message"] == OVERLAP_REASON
    assert skipped["trigger"] == {"type": "schedule", "schedule": "Classify"}
    assert [r["status"] for r in env.runs("success")] == ["success"]
    assert env.state(item).running_ms is None


def test_running_mark_of_a_dead_process_expires(env: Env) -> None:
    item = env.schedule(cron="*/5 * * * *")
    env.schedules.tick()
    env.queue.stop()  # only the run below may claim the schedule, not the queue's planned job
    S = automation_schema.schedule_state
    with write_transaction(env.crm.engine) as conn:  # a run left behind by a process that died
        conn.execute(S.update().where(S.c.item_id == int(item.id)).values(running_ms=ms(START)))
    env.clock.set(START + dt.timedelta(seconds=900 + 61))
    due = ms(START.replace(minute=15, second=0))
    eid = env.schedules.run_due(item.id, due)
    assert env.fx.executions.get(eid)["status"] == "success"


def test_recovered_run_is_reported_interrupted_not_run_again(env: Env) -> None:
    item = env.schedule(cron="*/5 * * * *")
    env.schedules.tick()
    due = ms(START.replace(minute=5, second=0))
    eid = env.crm.ids.next_id()
    # The worker that took the planned job dies: no live worker may run that job on its own
    # once the clock passes the run's (then expired) running mark.
    env.queue.stop()
    S = automation_schema.schedule_state
    with write_transaction(env.crm.engine) as conn:  # started on a worker that then died
        conn.execute(
            S.update()
            .where(S.c.item_id == int(item.id))
            .values(running_ms=due, last_due_ms=due, last_execution_id=eid)
        )
    env.clock.set(START.replace(minute=5, second=20))
    got = env.schedules.run_due(item.id, due, recovered=True)
    assert got == str(eid)
    record = env.fx.executions.get(str(eid))
    assert record["status"] == "failure"
    assert record["error"]["kind"] == "interrupted"
    assert len(env.runs()) == 1
    assert env.state(item).running_ms is None


# ---- two worker processes on PostgreSQL -------------------------------------------------------


def test_two_workers_on_postgresql_run_each_due_time_once(tmp_path: Path) -> None:
    from floodway.server import open_crm

    with temporary_postgres_database() as url:
        data = tmp_path / "data"
        settings = Settings(data=data, database_url=url)
        opened = open_crm(settings, database_url=url)
        fx = Functions(opened.crm, settings)
        fx.registry.create(SOURCE, publish=True)
        store = AutomationStore(opened.crm, fx)
        args = ["--data", str(data), "--database-url", url, "--concurrency", "2"]
        started = [start_worker(*args) for _ in range(2)]
        workers = [proc for proc, _ in started]
        try:
            now = dt.datetime.now(UTC)
            dues = [(now + dt.timedelta(seconds=s)).replace(microsecond=0) for s in (3, 4, 6)]
            for i, due in enumerate(dues):
                store.create(
                    "schedule",
                    {
                        "name": f"Classify {i}",
                        "function": "classify_accounts",
                        "timezone": "UTC",
                        "once": due.strftime("%Y-%m-%dT%H:%M:%S"),
                    },
                )
            deadline = time.monotonic() + 30
            runs: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                runs = fx.executions.list(function="classify_accounts", limit=50)
                if len(runs) >= 3 and dt.datetime.now(UTC) > dues[-1] + dt.timedelta(seconds=2):
                    break
                time.sleep(0.25)
            for w in workers:
                assert w.poll() is None
        finally:
            for w in workers:
                w.send_signal(signal.SIGTERM)
            codes = [w.wait(timeout=30) for w in workers]
            opened.crm.engine.dispose()
        outputs = ["\n".join(lines) for _, lines in started]
        assert codes == [0, 0], outputs
        names = sorted(r["trigger"]["schedule"] for r in runs)
        assert names == ["Classify 0", "Classify 1", "Classify 2"], outputs
        assert {r["status"] for r in runs} == {"success"}
