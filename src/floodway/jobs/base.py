"""``JobQueue``: what both backends share (handler registry, periodic ticks, the run of one
attempt, ``run_forever``); the backends store and claim the jobs."""

from __future__ import annotations

import logging
import signal
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine

from floodway.db import write_transaction

from .keys import check_key, claim_key, claim_keys, periodic_key
from .model import (
    Clock,
    Handler,
    Job,
    JobError,
    JobSettings,
    NewJob,
    Outcome,
    RetryLater,
    TickHandler,
    backoff_s,
    to_ms,
    utc_now,
)

log = logging.getLogger("floodway.jobs")

MAX_TASK_NAME = 200


@dataclass(frozen=True)
class Registration:
    handler: Handler
    max_attempts: int | None


class JobQueue(ABC):
    """A durable job queue on the application's database (see docs/jobs.md)."""

    backend: str = ""

    def __init__(self, engine: Engine, settings: Any = None, clock: Clock | None = None) -> None:
        self.engine = engine
        self.settings = JobSettings.from_settings(settings)
        self.clock: Clock = clock or utc_now
        self._handlers: dict[str, Registration] = {}
        self._tickers: dict[str, _Ticker] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._running = False

    # ---------------------------------------------------------------- registration

    def register(self, name: str, handler: Handler, max_attempts: int | None = None) -> None:
        """Make this process able to run jobs of task ``name`` (every process, before start)."""
        _check_name(name, "name")
        if max_attempts is not None and max_attempts < 1:
            raise JobError("INVALID_DATA", "max_attempts must be at least 1", "max_attempts")
        with self._lock:
            self._handlers[name] = Registration(handler, max_attempts)

    def every(self, name: str, seconds: float, handler: TickHandler) -> None:
        """Call ``handler(due_ms)`` once per due time (multiples of ``seconds`` on the queue's
        clock) across every process that ticks ``name``."""
        _check_name(name, "name")
        if not seconds > 0:
            raise JobError("INVALID_DATA", "the period must be more than 0 seconds", "seconds")
        with self._lock:
            if name in self._tickers:
                raise JobError("DUPLICATE_DATA", f"periodic task {name!r} is already set", "name")
            ticker = _Ticker(self, name, max(1, round(seconds * 1000)), handler)
            self._tickers[name] = ticker
            if self._running:
                ticker.start()

    # ---------------------------------------------------------------- enqueue

    def enqueue(
        self,
        conn: Connection,
        task: str,
        args: dict[str, Any],
        key: str | None = None,
        run_at_ms: int | None = None,
    ) -> bool:
        """Add a job inside ``conn``'s open transaction; False if ``key`` was used before."""
        self._check_enqueue(task, args, key)
        if not self._claim_key(conn, key):
            return False
        self._insert_jobs(conn, [NewJob(task, args, key, run_at_ms)])
        return True

    def enqueue_many(self, conn: Connection, batch: list[NewJob]) -> list[bool]:
        """``enqueue`` of several jobs inside ``conn``'s open transaction, with one statement
        for their keys and one for the jobs; per job whether it was added (a key used before,
        or earlier in the batch, adds nothing)."""
        if not batch:
            return []
        for new in batch:
            self._check_enqueue(new.task, new.args, new.key)
        keys = list(dict.fromkeys(new.key for new in batch if new.key is not None))
        fresh = claim_keys(conn, keys, self.now_ms())
        added: list[bool] = []
        chosen: list[NewJob] = []
        for new in batch:
            ok = new.key is None or new.key in fresh
            if ok and new.key is not None:
                fresh.discard(new.key)  # a key repeated in the batch: its first job only
            added.append(ok)
            if ok:
                chosen.append(new)
        if chosen:
            self._insert_jobs(conn, chosen)
        return added

    @abstractmethod
    def _insert_jobs(self, conn: Connection, batch: list[NewJob]) -> None:
        """Write the jobs of ``batch`` (keys already claimed) in ``conn``'s transaction."""

    def enqueue_now(
        self,
        task: str,
        args: dict[str, Any],
        key: str | None = None,
        run_at_ms: int | None = None,
    ) -> bool:
        """``enqueue`` in a transaction of its own."""
        with write_transaction(self.engine) as conn:
            return self.enqueue(conn, task, args, key=key, run_at_ms=run_at_ms)

    def _check_enqueue(self, task: str, args: dict[str, Any], key: str | None) -> None:
        _check_name(task, "task")
        if not isinstance(args, dict):
            raise JobError("INVALID_DATA", "job arguments must be a JSON object", "args")
        check_key(key)

    def _max_attempts(self, task: str) -> int:
        reg = self._handlers.get(task)
        if reg is not None and reg.max_attempts is not None:
            return reg.max_attempts
        return self.settings.max_attempts

    def _claim_key(self, conn: Connection, key: str | None) -> bool:
        return key is None or claim_key(conn, key, self.now_ms())

    # ---------------------------------------------------------------- running

    def start(self, concurrency: int | None = None) -> None:
        """Start worker threads in this process and the periodic ticks; returns at once."""
        with self._lock:
            if self._running:
                return
            self._running = True
            self._stopping.clear()
            tickers = list(self._tickers.values())
        self._start_workers(max(1, concurrency or self.settings.concurrency))
        for ticker in tickers:
            ticker.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs, wait up to ``timeout`` s for running ones, stop the ticks."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._stopping.set()
            tickers = list(self._tickers.values())
        deadline = time.monotonic() + timeout
        self._stop_workers(timeout)
        for ticker in tickers:
            ticker.join(max(0.0, deadline - time.monotonic()))

    def run_forever(self, concurrency: int | None = None, shutdown_timeout_s: float = 30.0) -> None:
        """Run workers until SIGTERM/SIGINT (or ``stop()`` from another thread); running jobs
        get ``shutdown_timeout_s`` to finish."""
        done = threading.Event()
        previous: dict[int, Any] = {}

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("stop requested", extra={"signal": signum})
            done.set()

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, on_signal)
        try:
            self.start(concurrency)
            while not done.wait(0.2) and not self._stopping.is_set():
                pass
        finally:
            self.stop(shutdown_timeout_s)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @abstractmethod
    def _start_workers(self, concurrency: int) -> None: ...

    @abstractmethod
    def _stop_workers(self, timeout: float) -> None: ...

    # ---------------------------------------------------------------- observing

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Jobs per status: ``{"todo", "doing", "succeeded", "failed"}``."""

    @abstractmethod
    def _idle(self) -> bool: ...

    @abstractmethod
    def purge(self) -> None:
        """Delete idempotency keys and finished jobs older than ``job_retention_days`` (the
        workers do this every minute; one process at a time on PostgreSQL)."""

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no job is doing and none is due now; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self._idle():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def now_ms(self) -> int:
        return to_ms(self.clock())

    # ---------------------------------------------------------------- one attempt

    def _execute(self, job: Job, max_attempts: int) -> Outcome:
        """Run the handler of ``job``; never raises (a handler's error is the job's result)."""
        reg = self._handlers.get(job.task)
        extra = {"job_id": job.id, "task": job.task, "attempt": job.attempt}
        try:
            if reg is None:
                # A worker of an older or newer release: leave the job to one that knows it.
                raise RetryLater(f"no handler is registered for task {job.task!r} in this worker")
            reg.handler(job)
        except RetryLater as exc:
            if job.attempt >= max_attempts:
                message = f"{exc.message} (gave up after {job.attempt} attempts)"
                log.error("job failed: %s", message, extra=extra)
                return Outcome("failed", message)
            delay = exc.delay_s if exc.delay_s is not None else backoff_s(job.attempt)
            log.warning("job will be retried in %.1f s: %s", delay, exc.message, extra=extra)
            return Outcome("retry", exc.message, max(0.0, delay))
        except Exception as exc:
            log.exception("job failed", extra=extra)
            return Outcome("failed", f"{type(exc).__name__}: {exc}"[:4000])
        return Outcome("succeeded")


def _check_name(name: str, where: str) -> None:
    if not isinstance(name, str) or not name or len(name) > MAX_TASK_NAME:
        raise JobError(
            "INVALID_DATA", f"the {where} must be 1 to {MAX_TASK_NAME} characters long", where
        )


class _Ticker:
    """One periodic task in this process: claims each due time in ``job_keys`` and calls the
    handler when the claim is its own. A process that dies during a call does not repeat it
    (at most once per due time). A ticker that falls behind by up to ``CATCH_UP`` periods (a
    slow tick, a busy machine) makes the missed due times up; after a longer gap (downtime, a
    clock jump) only the latest due time is called."""

    CATCH_UP = 5

    def __init__(self, queue: JobQueue, name: str, period_ms: int, handler: TickHandler) -> None:
        self.queue = queue
        self.name = name
        self.period_ms = period_ms
        self.handler = handler
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"floodway-tick-{self.name}", daemon=True
        )
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _due_times(self, last_due: int | None, due: int) -> list[int]:
        if last_due is None or due - last_due > self.CATCH_UP * self.period_ms:
            return [due]
        return list(range(last_due + self.period_ms, due + 1, self.period_ms))

    def _run(self) -> None:
        queue, stopping = self.queue, self.queue._stopping
        last_due: int | None = None
        while not stopping.is_set():
            now = queue.now_ms()
            due = now - now % self.period_ms
            for moment in self._due_times(last_due, due):
                if stopping.is_set():
                    break
                try:
                    with write_transaction(queue.engine) as conn:
                        mine = claim_key(conn, periodic_key(self.name, moment), now)
                except Exception:
                    log.exception("periodic claim failed", extra={"task": self.name})
                    break  # tried again on the next turn
                last_due = moment
                if mine:
                    try:
                        self.handler(moment)
                    except Exception:
                        log.exception("periodic task failed", extra={"task": self.name})
            remaining_s = (due + self.period_ms - queue.now_ms()) / 1000
            stopping.wait(min(queue.settings.poll_interval_s, max(0.005, remaining_s)))
