"""Workers as separate OS processes: a worker killed with SIGKILL before taking a job or in the
middle of one, and periodic ticks shared by two processes (SQLite and PostgreSQL).

The worker processes run ``tests/jobs/worker_process.py`` with a 0.5 s heartbeat and jobs
judged stalled after 2 s, so recovery takes a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodway.db import read_transaction
from floodway.jobs import JobQueue, open_queue

from .conftest import job_row, wait_for

SCRIPT = Path(__file__).with_name("worker_process.py")


class Workers:
    """Worker processes started by a test; whatever is left is killed at teardown."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--url", self.url, *extra],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


@pytest.fixture
def workers(db_url: str) -> Iterator[Workers]:
    w = Workers(db_url)
    yield w
    w.close()


def enqueuer(engine: Engine) -> JobQueue:
    """A queue used only to enqueue (its workers are never started), as in a web process."""
    return open_queue(engine, SimpleNamespace(job_heartbeat_s=0.5, job_stalled_after_s=2.0))


def starts(engine: Engine, label: str) -> list[sa.Row]:
    with read_transaction(engine) as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT job_id, attempt, recovered, pid FROM test_job_starts "
                    "WHERE label = :l ORDER BY n"
                ),
                {"l": label},
            )
        )


def wait_started(engine: Engine, label: str, n: int = 1, timeout: float = 30.0) -> list[sa.Row]:
    assert wait_for(lambda: len(starts(engine, label)) >= n, timeout, step=0.05), (
        f"{label}: {starts(engine, label)}"
    )
    return starts(engine, label)


def test_a_worker_killed_before_taking_the_job_loses_nothing(
    engine: Engine, workers: Workers
) -> None:
    queue = enqueuer(engine)
    queue.enqueue_now("test.record", {"label": "ping"})
    first = workers.start()
    wait_started(engine, "ping")  # the worker is up and takes jobs
    queue.enqueue_now("test.record", {"label": "later"}, run_at_ms=int(time.time() * 1000) + 2500)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert starts(engine, "later") == []

    second = workers.start()
    rows = wait_started(engine, "later")
    assert wait_for(lambda: job_row(engine, rows[0].job_id)["status"] == "succeeded", 10)
    time.sleep(1.0)
    rows = starts(engine, "later")
    assert [(r.attempt, r.recovered, r.pid) for r in rows] == [(1, False, second.pid)]
    assert job_row(engine, rows[0].job_id)["attempts"] == 1


def test_a_job_whose_worker_is_killed_is_recovered_by_another(
    engine: Engine, workers: Workers
) -> None:
    queue = enqueuer(engine)
    first = workers.start()
    queue.enqueue_now("test.record", {"label": "blocking", "block": True})
    (running,) = wait_started(engine, "blocking")
    assert (running.attempt, running.recovered, running.pid) == (1, False, first.pid)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed = time.monotonic()
    assert job_row(engine, running.job_id)["status"] == "doing"

    second = workers.start()
    rows = wait_started(engine, "blocking", n=2, timeout=30)
    recovered_after = time.monotonic() - killed
    assert wait_for(lambda: job_row(engine, running.job_id)["status"] == "succeeded", 10)
    time.sleep(1.0)
    rows = starts(engine, "blocking")
    assert [(r.job_id, r.attempt, r.recovered, r.pid) for r in rows] == [
        (running.job_id, 1, False, first.pid),
        (running.job_id, 2, True, second.pid),
    ]
    row = job_row(engine, running.job_id)
    assert row["recovered"] is True and row["attempts"] == 2
    assert recovered_after < 15


def test_two_processes_tick_once_per_due_time(engine: Engine, workers: Workers) -> None:
    procs = [workers.start("--every", "0.5") for _ in range(2)]

    def ticks() -> list[sa.Row]:
        with read_transaction(engine) as conn:
            return list(conn.execute(sa.text("SELECT due_ms, pid FROM test_ticks ORDER BY due_ms")))

    # both processes are up once each has claimed at least one due time
    assert wait_for(lambda: len({r.pid for r in ticks()}) == 2, 30, step=0.1), ticks()
    time.sleep(3.0)
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        assert proc.wait(15) == 0  # SIGTERM stops run_forever gracefully
    rows = ticks()
    dues = [r.due_ms for r in rows]
    assert len(dues) == len(set(dues)), "a due time was called twice"
    assert all(d % 500 == 0 for d in dues)
    # no gaps while both ran
    assert dues == list(range(dues[0], dues[-1] + 1, 500))
    assert len(dues) >= 6
