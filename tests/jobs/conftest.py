"""Fixtures of the job engine tests: a fresh migrated database per test on SQLite and
PostgreSQL, a controllable clock, and queues that are stopped at teardown."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodway.crm.testing import BACKENDS, crm_database
from floodway.db import create_engine_for, ensure_schema, read_transaction, write_transaction
from floodway.jobs import JobQueue, open_queue

from .worker_process import test_tables


class FakeClock:
    """An aware UTC clock that moves only when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += dt.timedelta(seconds=seconds)

    def ms(self) -> int:
        return int(self().timestamp() * 1000)


JOB_TABLES = ("job_keys", "jobs", "job_workers", "test_job_starts", "test_ticks")
PROCRASTINATE_TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)


@pytest.fixture(scope="module", params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One migrated database per module and backend; ``engine`` empties it for each test."""
    with crm_database(request.param, tmp_path_factory.mktemp("jobs")) as url:
        engine = create_engine_for(database_url=url)
        try:
            ensure_schema(engine)
            test_tables.create_all(engine)
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(database_url=db_url)
    with write_transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(JOB_TABLES + PROCRASTINATE_TABLES)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY"))
        else:
            for name in JOB_TABLES:
                conn.execute(sa.text(f"DELETE FROM {name}"))
    yield engine
    engine.dispose()


def job_settings(**overrides: Any) -> SimpleNamespace:
    values = {
        "worker_concurrency": 2,
        "job_max_attempts": 5,
        "job_heartbeat_s": 0.5,
        "job_stalled_after_s": 2.0,
        "job_poll_interval_s": 0.2,
        "job_retention_days": 7,
    }
    values.update(overrides)
    return SimpleNamespace(**values)


@pytest.fixture
def make_queue(engine: Engine) -> Iterator[Callable[..., JobQueue]]:
    queues: list[JobQueue] = []

    def make(clock: Callable[[], dt.datetime] | None = None, **settings: Any) -> JobQueue:
        queue = open_queue(engine, job_settings(**settings), clock=clock)
        queues.append(queue)
        return queue

    yield make
    for queue in queues:
        queue.stop(timeout=2.0)


def job_row(engine: Engine, job_id: str) -> dict[str, Any]:
    """Status, attempts, last error and recovered flag of a job, on either backend."""
    with read_transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            row = conn.execute(
                sa.text(
                    "SELECT status::text, attempts, args FROM procrastinate_jobs WHERE id = :i"
                ),
                {"i": int(job_id)},
            ).one()
            return {
                "status": row.status,
                "attempts": row.attempts + (1 if row.status == "doing" else 0),
                "last_error": row.args.get("last_error"),
                "recovered": bool(row.args.get("recovered")),
            }
        row = conn.execute(
            sa.text("SELECT status, attempts, last_error, recovered FROM jobs WHERE id = :i"),
            {"i": int(job_id)},
        ).one()
        return {
            "status": row.status,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "recovered": bool(row.recovered),
        }


def key_count(engine: Engine) -> int:
    with read_transaction(engine) as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM job_keys")).scalar_one())


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
