"""The job engine in one process, on SQLite (embedded) and PostgreSQL (procrastinate)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodway.db import write_transaction
from floodway.jobs import Job, JobError, JobQueue, NewJob, RetryLater, open_queue
from floodway.jobs.embedded import EmbeddedQueue
from floodway.jobs.postgres import ProcrastinateQueue, conninfo_for

from .conftest import FakeClock, job_row, key_count, wait_for

MakeQueue = Callable[..., JobQueue]


class Recorder:
    """A handler that records the jobs it sees (and when), optionally misbehaving."""

    def __init__(self, action: Callable[[Job], None] | None = None) -> None:
        self.jobs: list[Job] = []
        self.times: list[float] = []
        self.action = action
        self._lock = threading.Lock()

    def __call__(self, job: Job) -> None:
        with self._lock:
            self.jobs.append(job)
            self.times.append(time.monotonic())
        if self.action is not None:
            self.action(job)

    def wait(self, n: int, timeout: float = 5.0) -> bool:
        return wait_for(lambda: len(self.jobs) >= n, timeout)


def test_open_queue_picks_the_backend_of_the_engine(engine: Engine) -> None:
    queue = open_queue(engine, None)
    expected = ProcrastinateQueue if engine.dialect.name == "postgresql" else EmbeddedQueue
    assert isinstance(queue, expected)
    assert queue.settings.heartbeat_s == 2.0 and queue.settings.max_attempts == 5


def test_conninfo_comes_from_the_engine_url() -> None:
    url = sa.make_url("postgresql+psycopg://u:p%40w@127.0.0.1:5433/db?sslmode=disable")
    assert conninfo_for(url) == "postgresql://u:p%40w@127.0.0.1:5433/db?sslmode=disable"


def test_enqueue_is_part_of_the_callers_transaction(engine: Engine, make_queue: MakeQueue) -> None:
    queue = make_queue()
    seen = Recorder()
    queue.register("t.work", seen)
    queue.start()
    with pytest.raises(RuntimeError), write_transaction(engine) as conn:
        assert queue.enqueue(conn, "t.work", {"n": 1}, key="k:rolled-back") is True
        raise RuntimeError("the write fails after the enqueue")
    assert queue.wait_idle(5)
    time.sleep(0.3)
    assert seen.jobs == []
    assert queue.counts() == {"todo": 0, "doing": 0, "succeeded": 0, "failed": 0}
    assert key_count(engine) == 0

    with write_transaction(engine) as conn:
        conn.execute(sa.text("INSERT INTO test_ticks (due_ms, pid) VALUES (1, 1)"))
        assert queue.enqueue(conn, "t.work", {"n": 2}, key="k:committed") is True
    assert seen.wait(1)
    assert [j.args for j in seen.jobs] == [{"n": 2}]
    assert seen.jobs[0].key == "k:committed" and seen.jobs[0].attempt == 1
    assert queue.wait_idle(5)
    assert queue.counts()["succeeded"] == 1


def test_enqueue_many_adds_each_new_key_once_in_the_callers_transaction(
    engine: Engine, make_queue: MakeQueue
) -> None:
    queue = make_queue()
    seen = Recorder()
    queue.register("t.work", seen)
    queue.start()
    assert queue.enqueue_now("t.work", {"n": 0}, key="many:used")
    assert seen.wait(1)
    with pytest.raises(RuntimeError), write_transaction(engine) as conn:
        assert queue.enqueue_many(conn, [NewJob("t.work", {"n": 9}, "many:gone")]) == [True]
        raise RuntimeError("the write fails after the enqueue")
    batch = [
        NewJob("t.work", {"n": 1}, "many:a"),
        NewJob("t.work", {"n": 2}, "many:used"),  # used before: not added
        NewJob("t.work", {"n": 3}),  # no key
        NewJob("t.work", {"n": 4}, "many:a"),  # repeated in the batch: first only
        NewJob("t.work", {"n": 5}, "many:gone"),  # its first use was rolled back
    ]
    with write_transaction(engine) as conn:
        assert queue.enqueue_many(conn, batch) == [True, False, True, False, True]
    assert seen.wait(4)
    assert queue.wait_idle(5)
    time.sleep(0.2)
    assert sorted(j.args["n"] for j in seen.jobs) == [0, 1, 3, 5]
    with pytest.raises(JobError), write_transaction(engine) as conn:
        queue.enqueue_many(conn, [NewJob("t.work", {"n": 6}, "x" * 201)])


def test_a_key_is_accepted_once_ever_then_purged(engine: Engine, make_queue: MakeQueue) -> None:
    clock = FakeClock()
    queue = make_queue(clock=clock)
    seen = Recorder()
    queue.register("t.work", seen)
    queue.start()
    assert queue.enqueue_now("t.work", {"n": 1}, key="once") is True
    assert seen.wait(1) and queue.wait_idle(5)
    with write_transaction(engine) as conn:  # even after the job finished
        assert queue.enqueue(conn, "t.work", {"n": 2}, key="once") is False
    assert queue.enqueue_now("t.work", {"n": 3}, key="once") is False
    time.sleep(0.3)
    assert [j.args["n"] for j in seen.jobs] == [1]

    clock.advance(6 * 86400)
    queue.purge()
    assert key_count(engine) == 1  # younger than job_retention_days
    clock.advance(2 * 86400)
    queue.purge()
    assert key_count(engine) == 0
    assert queue.counts()["succeeded"] == (1 if engine.dialect.name == "postgresql" else 0)


def test_invalid_enqueues_are_refused(make_queue: MakeQueue) -> None:
    queue = make_queue()
    with pytest.raises(JobError) as err:
        queue.enqueue_now("t.work", {}, key="k" * 201)
    assert err.value.where == "key"
    with pytest.raises(JobError) as err:
        queue.enqueue_now("", {})
    assert err.value.where == "task"
    with pytest.raises(JobError) as err:
        queue.enqueue_now("t.work", ["not", "an", "object"])  # type: ignore[arg-type]
    assert err.value.where == "args"


def test_immediate_jobs_start_at_once_without_waiting_for_a_poll(make_queue: MakeQueue) -> None:
    queue = make_queue(job_poll_interval_s=5.0)
    seen = Recorder()
    queue.register("t.work", seen)
    queue.start()
    time.sleep(0.5)  # the workers are idle, waiting
    for n in range(3):
        started = time.monotonic()
        queue.enqueue_now("t.work", {"n": n})
        assert seen.wait(n + 1, timeout=2.0)
        assert seen.times[n] - started < 1.0
        time.sleep(0.2)


def test_delayed_job_waits_for_the_clock(engine: Engine, make_queue: MakeQueue) -> None:
    seen = Recorder()
    if engine.dialect.name == "postgresql":
        # procrastinate's schedule_at runs on the database's time.
        queue = make_queue()
        queue.register("t.work", seen)
        queue.start()
        enqueued = time.monotonic()
        queue.enqueue_now("t.work", {}, run_at_ms=int(time.time() * 1000) + 1500)
        assert seen.wait(1, timeout=5.0)
        assert 1.4 <= seen.times[0] - enqueued < 1.5 + 1.0
        assert seen.jobs[0].run_at_ms is not None
        return
    clock = FakeClock()
    queue = make_queue(clock=clock, job_poll_interval_s=0.5)
    queue.register("t.work", seen)
    queue.start()
    run_at = clock.ms() + 3_600_000
    queue.enqueue_now("t.work", {}, run_at_ms=run_at)
    time.sleep(0.8)
    assert seen.jobs == []
    assert queue.wait_idle(0.1)  # nothing due now
    assert queue.counts()["todo"] == 1
    clock.advance(3600)
    moved = time.monotonic()
    assert seen.wait(1, timeout=3.0)
    assert seen.times[0] - moved < 0.5 + 0.5  # one poll interval, plus slack
    assert seen.jobs[0].run_at_ms == run_at and seen.jobs[0].enqueued_ms == run_at - 3_600_000


def test_retry_later_backs_off_then_fails_after_max_attempts(
    engine: Engine, make_queue: MakeQueue
) -> None:
    def flaky(job: Job) -> None:
        raise RetryLater("the mail server is down")

    queue = make_queue(job_max_attempts=3)
    seen = Recorder(flaky)
    queue.register("t.flaky", seen)
    queue.start()
    queue.enqueue_now("t.flaky", {})
    assert seen.wait(3, timeout=8.0)  # backoff 1 s, then 2 s
    assert [j.attempt for j in seen.jobs] == [1, 2, 3]
    gaps = [b - a for a, b in zip(seen.times, seen.times[1:], strict=False)]
    assert 0.9 <= gaps[0] < 1.9 and 1.9 <= gaps[1] < 2.9
    assert wait_for(lambda: queue.counts()["failed"] == 1, 3.0)
    row = job_row(engine, seen.jobs[0].id)
    assert row["status"] == "failed" and row["attempts"] == 3
    assert row["last_error"] == "the mail server is down (gave up after 3 attempts)"
    time.sleep(0.3)
    assert len(seen.jobs) == 3


def test_retry_later_delay_and_per_task_max_attempts(engine: Engine, make_queue: MakeQueue) -> None:
    def flaky(job: Job) -> None:
        if job.attempt < 2:
            raise RetryLater("not yet", delay_s=0)

    queue = make_queue()
    seen = Recorder(flaky)
    queue.register("t.flaky", seen, max_attempts=2)
    queue.start()
    queue.enqueue_now("t.flaky", {})
    assert seen.wait(2, timeout=3.0)
    assert seen.times[1] - seen.times[0] < 0.2 + 0.5
    assert wait_for(lambda: queue.counts()["succeeded"] == 1, 3.0)
    assert job_row(engine, seen.jobs[0].id)["attempts"] == 2


def test_other_errors_fail_the_job_at_once_and_the_worker_goes_on(
    engine: Engine, make_queue: MakeQueue, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(job: Job) -> None:
        if job.args.get("broken"):
            raise KeyError("dealId")

    queue = make_queue(worker_concurrency=1)
    seen = Recorder(broken)
    queue.register("t.work", seen)
    queue.start()
    queue.enqueue_now("t.work", {"broken": True})
    queue.enqueue_now("t.work", {"broken": False})
    assert seen.wait(2)
    assert queue.wait_idle(5)
    assert queue.counts() == {"todo": 0, "doing": 0, "succeeded": 1, "failed": 1}
    failed = next(j for j in seen.jobs if j.args["broken"])
    row = job_row(engine, failed.id)
    assert row["status"] == "failed" and row["attempts"] == 1
    assert row["last_error"] == "KeyError: 'dealId'"
    assert any(r.name == "floodway.jobs" and r.levelname == "ERROR" for r in caplog.records)


def test_a_task_without_handler_fails_when_attempts_are_used_up(
    engine: Engine, make_queue: MakeQueue
) -> None:
    queue = make_queue(job_max_attempts=1)
    queue.start()
    queue.enqueue_now("t.unknown", {})
    assert wait_for(lambda: queue.counts()["failed"] == 1, 5.0)


def test_a_handler_can_enqueue_follow_up_jobs(make_queue: MakeQueue) -> None:
    """On PostgreSQL the worker's async pool is open in this process: the enqueue must still
    go through the caller's own connection."""
    second = Recorder()

    def first(job: Job) -> None:
        queue.enqueue_now("t.second", {"from": job.id})

    queue = make_queue()
    queue.register("t.first", first)
    queue.register("t.second", second)
    queue.start()
    queue.enqueue_now("t.first", {})
    assert second.wait(1)
    assert queue.wait_idle(5)
    assert queue.counts()["succeeded"] == 2


def test_counts_and_wait_idle_follow_running_jobs(make_queue: MakeQueue) -> None:
    release = threading.Event()
    queue = make_queue()
    seen = Recorder(lambda job: release.wait(5))
    queue.register("t.slow", seen)
    queue.start()
    queue.enqueue_now("t.slow", {})
    assert seen.wait(1)
    assert queue.counts()["doing"] == 1
    assert queue.wait_idle(0.2) is False
    release.set()
    assert queue.wait_idle(5) is True
    assert queue.counts() == {"todo": 0, "doing": 0, "succeeded": 1, "failed": 0}


def test_stop_returns_within_its_timeout_while_a_handler_blocks(make_queue: MakeQueue) -> None:
    release = threading.Event()
    queue = make_queue()
    seen = Recorder(lambda job: release.wait(30))
    queue.register("t.slow", seen)
    queue.start()
    queue.enqueue_now("t.slow", {})
    assert seen.wait(1)
    started = time.monotonic()
    queue.stop(timeout=0.5)
    assert time.monotonic() - started < 2.0
    assert queue.counts()["doing"] == 1
    release.set()
    assert queue.wait_idle(5)  # the job still ends once its handler returns


def test_every_calls_once_per_due_time_on_the_queue_clock(
    engine: Engine, make_queue: MakeQueue
) -> None:
    clock = FakeClock()
    ticks: list[int] = []
    first, second = make_queue(clock=clock), make_queue(clock=clock)
    for queue in (first, second):  # two queues share the due times like two processes
        queue.every("t.tick", 60.0, ticks.append)
        queue.start()
    assert wait_for(lambda: len(ticks) == 1, 3.0)
    time.sleep(0.5)
    assert ticks == [clock.ms() - clock.ms() % 60_000]
    clock.advance(60)
    assert wait_for(lambda: len(ticks) == 2, 3.0)
    clock.advance(30)
    time.sleep(0.5)
    assert len(ticks) == 2
    clock.advance(30)
    assert wait_for(lambda: len(ticks) == 3, 3.0)
    time.sleep(0.5)
    assert ticks == sorted(set(ticks)) and ticks[2] - ticks[0] == 120_000


def test_every_rejects_a_second_registration_and_bad_periods(make_queue: MakeQueue) -> None:
    queue = make_queue()
    queue.every("t.tick", 1.0, lambda due: None)
    with pytest.raises(JobError):
        queue.every("t.tick", 1.0, lambda due: None)
    with pytest.raises(JobError) as err:
        queue.every("t.other", 0, lambda due: None)
    assert err.value.where == "seconds"


def test_every_makes_up_a_few_missed_due_times_but_not_a_long_gap(make_queue: MakeQueue) -> None:
    clock = FakeClock()
    ticks: list[int] = []
    queue = make_queue(clock=clock)
    queue.every("t.tick", 1.0, ticks.append)
    queue.start()
    assert wait_for(lambda: len(ticks) == 1, 3.0)
    clock.advance(3)  # a ticker that fell behind by three periods
    assert wait_for(lambda: len(ticks) == 4, 3.0)
    assert [t - ticks[0] for t in ticks] == [0, 1000, 2000, 3000]
    clock.advance(3600)  # downtime or a clock jump: only the latest due time
    assert wait_for(lambda: len(ticks) == 5, 3.0)
    time.sleep(0.5)
    assert ticks[4] - ticks[3] == 3_600_000 and len(ticks) == 5


def test_jobs_sharing_a_lock_run_one_at_a_time_in_enqueue_order(
    engine: Engine, make_queue: MakeQueue
) -> None:
    """Four slots, a lock of three jobs (the first fails, the second is held) and a job of
    another lock: the locked jobs never overlap and start in order, a failure does not stop
    the ones after it, and the other lock is not held up."""
    release = threading.Event()
    running: set[str] = set()
    overlaps: list[tuple[str, ...]] = []
    guard = threading.Lock()

    def work(job: Job) -> None:
        name = str(job.args["name"])
        with guard:
            if job.args.get("lock") and any(n.startswith("a") for n in running):
                overlaps.append((name, *running))
            running.add(name)
        try:
            if name == "a1":
                raise ValueError("first fails")
            if name == "a2":
                assert release.wait(5)
            time.sleep(0.05)
        finally:
            with guard:
                running.discard(name)

    seen = Recorder(work)
    queue = make_queue(worker_concurrency=4)
    queue.register("t.locked", seen)
    queue.start()
    with write_transaction(engine) as conn:
        queue.enqueue_many(
            conn,
            [
                NewJob("t.locked", {"name": "a1", "lock": True}, lock="a"),
                NewJob("t.locked", {"name": "a2", "lock": True}, lock="a"),
                NewJob("t.locked", {"name": "a3", "lock": True}, lock="a"),
                NewJob("t.locked", {"name": "b1"}, lock="b"),
            ],
        )
    assert seen.wait(3)  # a1, a2 and b1 (b1 while a2 is held)
    names = [str(j.args["name"]) for j in seen.jobs]
    assert "a3" not in names, names  # waits for a2
    assert "b1" in names
    release.set()
    assert queue.wait_idle(10)
    names = [str(j.args["name"]) for j in seen.jobs]
    assert [n for n in names if n.startswith("a")] == ["a1", "a2", "a3"]
    assert overlaps == []
    assert queue.counts() == {"todo": 0, "doing": 0, "succeeded": 3, "failed": 1}
