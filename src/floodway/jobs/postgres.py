"""The PostgreSQL backend on procrastinate (see docs/jobs.md and the job-engine notes).

- One generic procrastinate task (``floodway.job``, queue ``floodway``) carries every job; its
  arguments are ``{"task", "args", "key", "enqueued_ms", "run_at_ms", "max_attempts"}`` and the
  worker dispatches to the handler registered under ``task``.
- Enqueue writes the job on the caller's psycopg connection, inside a savepoint of the caller's
  transaction, through a ``JobManager`` whose connector is never opened: it only runs SQL on
  connections it is given, so it also works inside a worker process whose async pool is open.
- The worker is procrastinate's async worker, run in a thread with its own event loop. The task
  is synchronous, so handlers run on executor threads and the heartbeats go on while they work.
  A procrastinate worker fetches its jobs one after the other, so a process runs one worker per
  two job slots (``fetch_loops``): fetching does not become the limit of a busy process.
- ``enqueue_many`` defers all jobs of a batch with one ``batch_defer_jobs`` in one savepoint.
- Stalled jobs: procrastinate does not retry jobs of dead workers. Every process checks every
  ``job_heartbeat_s`` (one at a time, under an advisory lock) for ``doing`` jobs whose worker has
  been silent for ``job_stalled_after_s``. Such a job gets ``"recovered": true`` in its
  arguments (which is how the next attempt knows) and is retried, or failed when its attempts
  are used up. procrastinate's ``attempts`` counts every retry, so ``Job.attempt`` is
  ``attempts + 1`` for stall retries and ``RetryLater`` retries alike.
- ``last_error`` is kept in the job's arguments as well (procrastinate has no column for it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import json
import logging
import os
import queue as queue_module
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import sqlalchemy as sa
from procrastinate import App, PsycopgConnector, SyncPsycopgConnector, sql
from procrastinate import jobs as pjobs
from procrastinate.job_context import JobContext
from procrastinate.manager import JobManager
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from sqlalchemy.engine import URL, Connection, Engine

from floodway.db import read_transaction, write_transaction

from .base import JobQueue
from .keys import purge_keys
from .model import Clock, Job, NewJob

log = logging.getLogger("floodway.jobs")

TASK_NAME: Final = "floodway.job"
QUEUE: Final = "floodway"
# Arbitrary advisory lock keys: one process at a time recovers stalled jobs / purges.
RECOVERY_LOCK: Final = 0x666C6F6F64776A31  # "floodwj1"
PURGE_LOCK: Final = 0x666C6F6F64776A32  # "floodwj2"
DIED: Final = "the worker running this job stopped responding"
STATUSES: Final = ("todo", "doing", "succeeded", "failed")
RESTART_DELAY_S: Final = 1.0
SLOTS_PER_LOOP: Final = 2


def conninfo_for(url: URL) -> str:
    """The libpq connection URI of a SQLAlchemy ``postgresql+psycopg://`` URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class _Retry(Exception):
    def __init__(self, message: str, delay_s: float) -> None:
        super().__init__(message)
        self.delay_s = delay_s


class JobFailed(Exception):
    """The job's handler failed; the message is the job's last error."""


class _RetryStrategy(BaseRetryStrategy):
    """Retries exactly when the dispatcher asks (the attempt count is checked there)."""

    def get_retry_decision(
        self, *, exception: BaseException, job: pjobs.Job
    ) -> RetryDecision | None:
        if isinstance(exception, _Retry):
            return RetryDecision(retry_in={"seconds": exception.delay_s})
        return None


class ProcrastinateQueue(JobQueue):
    backend = "procrastinate"

    def __init__(self, engine: Engine, settings: Any = None, clock: Clock | None = None) -> None:
        super().__init__(engine, settings, clock)
        self.conninfo = conninfo_for(engine.url)
        self._tx_connector = SyncPsycopgConnector()  # never opened: caller's connections only
        self._tx_jobs = JobManager(self._tx_connector)
        self.app: App | None = None
        self._worker_thread: threading.Thread | None = None
        self._maintenance_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._shutdown_timeout_s = 10.0

    # ---------------------------------------------------------------- enqueue

    def _insert_jobs(self, conn: Connection, batch: list[NewJob]) -> None:
        now = self.now_ms()
        jobs = [
            pjobs.Job(
                queue=QUEUE,
                lock=new.lock,  # procrastinate runs jobs of one lock one at a time, in order
                queueing_lock=None,
                task_name=TASK_NAME,
                task_kwargs={
                    "task": new.task,
                    "args": new.args,
                    "key": new.key,
                    "enqueued_ms": now,
                    "run_at_ms": new.run_at_ms,
                    "max_attempts": self._max_attempts(new.task),
                },
                scheduled_at=None
                if new.run_at_ms is None
                else dt.datetime.fromtimestamp(new.run_at_ms / 1000, dt.UTC),
            )
            for new in batch
        ]
        # The savepoint keeps a failed insert from poisoning the caller's transaction; Core
        # sends it at once, so the raw connection below is inside it. One statement for the
        # whole batch.
        with conn.begin_nested():
            self._tx_jobs.batch_defer_jobs(jobs, connection=conn.connection.driver_connection)

    # ---------------------------------------------------------------- workers

    def _start_workers(self, concurrency: int) -> None:
        app = App(
            connector=PsycopgConnector(
                conninfo=self.conninfo,
                min_size=1,
                max_size=max(2, concurrency + fetch_loops(concurrency) + 2),
            )
        )
        app.task(name=TASK_NAME, queue=QUEUE, pass_context=True, retry=_RetryStrategy())(
            self._dispatch
        )
        self.app = app
        self._worker_thread = threading.Thread(
            target=self._worker_main, args=(app, concurrency), name="floodway-jobs", daemon=True
        )
        self._maintenance_thread = threading.Thread(
            target=self._maintain, name="floodway-jobs-maintenance", daemon=True
        )
        self._worker_thread.start()
        self._maintenance_thread.start()

    def _stop_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self._shutdown_timeout_s = timeout
        loop, task = self._loop, self._main_task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(task.cancel)
        for thread in (self._worker_thread, self._maintenance_thread):
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._worker_thread is not None and self._worker_thread.is_alive():
            # A handler still running: its job stays ``doing`` and is recovered once this
            # process's heartbeats stop.
            log.warning("jobs still running at stop")
        self._worker_thread = self._maintenance_thread = None

    def _worker_main(self, app: App, concurrency: int) -> None:
        loop = asyncio.new_event_loop()
        # Room beyond the job slots: the loop also resolves host names on the default executor.
        executor = _DaemonExecutor(concurrency + 2, "floodway-job")
        loop.set_default_executor(executor)
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._supervise(app, concurrency))
        finally:
            self._loop = None
            self._main_task = None
            executor.shutdown(wait=False)
            loop.close()

    async def _supervise(self, app: App, concurrency: int) -> None:
        """Run the worker; restart it after an error (a lost connection, or its worker row
        pruned by another process after a long pause) until stopped."""
        self._main_task = asyncio.current_task()  # type: ignore[assignment]
        if self._stopping.is_set():
            return
        while not self._stopping.is_set():
            try:
                async with app.open_async():
                    await self._run_loops(app, concurrency)
                if self._stopping.is_set():
                    return
                # procrastinate ends its worker when a side task (heartbeat, listener) fails.
                log.warning("job worker stopped unexpectedly; restarting")
            except asyncio.CancelledError:
                return
            except Exception:
                log.exception("job worker stopped on an error; restarting")
            try:
                await asyncio.sleep(RESTART_DELAY_S)
            except asyncio.CancelledError:
                return

    async def _run_loops(self, app: App, concurrency: int) -> None:
        """Run the job slots as ``fetch_loops(concurrency)`` procrastinate workers: a worker
        fetches its jobs one after the other, so one worker for every slot made fetching the
        limit of a busy process. When one worker ends, the others are stopped too (and the
        caller starts them all again)."""
        loops = fetch_loops(concurrency)
        sizes = [concurrency // loops + (1 if i < concurrency % loops else 0) for i in range(loops)]
        tasks = [
            asyncio.create_task(
                app.run_worker_async(
                    # Every queue (floodway has one): with a queue filter PostgreSQL plans the
                    # fetch as a sort of every waiting job instead of a walk of the priority
                    # index, and a backlog of thousands made each fetch cost ~100 ms.
                    queues=None,
                    name=f"floodway-{os.getpid()}" + (f"-{i}" if loops > 1 else ""),
                    concurrency=size,
                    wait=True,
                    install_signal_handlers=False,
                    listen_notify=True,
                    fetch_job_polling_interval=self.settings.poll_interval_s,
                    abort_job_polling_interval=max(5.0, self.settings.poll_interval_s),
                    update_heartbeat_interval=self.settings.heartbeat_s,
                    stalled_worker_timeout=self.settings.stalled_after_s,
                    shutdown_graceful_timeout=self._shutdown_timeout_s,
                    delete_jobs="never",
                )
            )
            for i, size in enumerate(sizes)
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            # Each worker shuts down gracefully (running jobs get the shutdown timeout).
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result

    def _dispatch(self, context: JobContext, **payload: Any) -> None:
        """The one procrastinate task: run the handler of ``payload["task"]``."""
        pjob = context.job
        assert pjob.id is not None
        job = Job(
            id=str(pjob.id),
            task=str(payload.get("task", "")),
            args=dict(payload.get("args") or {}),
            key=payload.get("key"),
            attempt=pjob.attempts + 1,
            recovered=bool(payload.get("recovered")),
            run_at_ms=payload.get("run_at_ms"),
            enqueued_ms=int(payload.get("enqueued_ms") or 0),
        )
        max_attempts = int(payload.get("max_attempts") or self.settings.max_attempts)
        outcome = self._execute(job, max_attempts)
        if outcome.status == "succeeded":
            return
        self._set_args(pjob.id, {"last_error": outcome.error})
        if outcome.status == "retry":
            raise _Retry(outcome.error or "", outcome.delay_s)
        raise JobFailed(outcome.error)

    def _set_args(self, job_id: int, patch: dict[str, Any], conn: Connection | None = None) -> None:
        stmt = sa.text(
            "UPDATE procrastinate_jobs SET args = args || CAST(:patch AS jsonb) WHERE id = :id"
        )
        params = {"patch": json.dumps(patch), "id": job_id}
        if conn is not None:
            conn.execute(stmt, params)
            return
        try:
            with write_transaction(self.engine) as own:
                own.execute(stmt, params)
        except Exception:
            log.exception("could not record a job's error", extra={"job_id": job_id})

    # ---------------------------------------------------------------- recovery, purge

    def _maintain(self) -> None:
        next_purge = time.monotonic()
        while not self._stopping.wait(self.settings.heartbeat_s):
            try:
                self._recover_stalled()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + self.settings.maintenance_every_s
                    self.purge()
            except Exception:
                log.exception("job engine maintenance failed")

    def _recover_stalled(self) -> int:
        """Retry (or fail, when out of attempts) the ``doing`` jobs of silent workers; returns
        how many were retried. One process at a time, in one transaction."""
        retried = failed = 0
        with write_transaction(self.engine) as conn:
            if not _try_lock(conn, RECOVERY_LOCK):
                return 0
            raw = conn.connection.driver_connection
            rows = self._tx_connector.execute_query_all_with_connection(
                raw,
                query=sql.queries["select_stalled_jobs_by_heartbeat"],
                queue=QUEUE,
                task_name=TASK_NAME,
                seconds_since_heartbeat=self.settings.stalled_after_s,
            )
            for row in rows:
                args = row["args"] or {}
                max_attempts = int(args.get("max_attempts") or self.settings.max_attempts)
                if row["attempts"] + 1 >= max_attempts:
                    message = f"{DIED} (gave up after its last attempt)"
                    self._set_args(row["id"], {"recovered": True, "last_error": message}, conn)
                    self._tx_connector.execute_query_one_with_connection(
                        raw,
                        query=sql.queries["finish_job"],
                        job_id=row["id"],
                        status=pjobs.Status.FAILED.value,
                        delete_job=False,
                    )
                    failed += 1
                else:
                    self._set_args(row["id"], {"recovered": True, "last_error": DIED}, conn)
                    self._tx_connector.execute_query_one_with_connection(
                        raw,
                        query=sql.queries["retry_job"],
                        job_id=row["id"],
                        retry_at=dt.datetime.now(dt.UTC),
                        new_priority=None,
                        new_queue_name=None,
                        new_lock=None,
                    )
                    retried += 1
        if retried or failed:
            log.warning("recovered %d job(s) of stopped workers, failed %d", retried, failed)
        return retried

    def purge(self) -> None:
        with write_transaction(self.engine) as conn:
            if not _try_lock(conn, PURGE_LOCK):
                return
            purge_keys(conn, self.now_ms(), self.settings.retention_days)
            conn.connection.driver_connection.execute(
                sql.queries["delete_old_jobs"],
                {
                    "nb_hours": self.settings.retention_days * 24,
                    "queue": QUEUE,
                    "statuses": ["succeeded", "failed", "cancelled", "aborted"],
                },
            )

    # ---------------------------------------------------------------- observing

    def counts(self) -> dict[str, int]:
        result = dict.fromkeys(STATUSES, 0)
        with read_transaction(self.engine) as conn:
            for status, n in conn.execute(
                sa.text(
                    "SELECT status::text, count(*) FROM procrastinate_jobs "
                    "WHERE task_name = :t GROUP BY status"
                ),
                {"t": TASK_NAME},
            ):
                # cancelled / aborted jobs did not succeed: counted with the failed ones
                name = status if status in result else "failed"
                if status == "aborting":
                    name = "doing"
                result[name] += n
        return result

    def _idle(self) -> bool:
        with read_transaction(self.engine) as conn:
            busy = conn.execute(
                sa.text(
                    "SELECT 1 FROM procrastinate_jobs WHERE task_name = :t AND "
                    "(status IN ('doing', 'aborting') OR (status = 'todo' AND "
                    "(scheduled_at IS NULL OR scheduled_at <= now()))) LIMIT 1"
                ),
                {"t": TASK_NAME},
            ).first()
        return busy is None


def fetch_loops(concurrency: int) -> int:
    """How many procrastinate workers share a process's ``concurrency`` job slots: two slots
    each (a worker's fetches are sequential; fewer workers mean fewer connections)."""
    return max(1, (concurrency + 1) // SLOTS_PER_LOOP)


def _try_lock(conn: Connection, key: int) -> bool:
    return bool(conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())


class _DaemonExecutor(concurrent.futures.ThreadPoolExecutor):
    """A thread pool of daemon threads: a handler that never returns must not keep the
    process from exiting after ``stop`` (the standard pool joins its threads at exit). A
    ``ThreadPoolExecutor`` only because asyncio's default executor must be one."""

    def __init__(self, size: int, name: str) -> None:
        super().__init__(max_workers=size)  # state only: this class starts its own threads
        self._work: queue_module.SimpleQueue[
            tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None
        ] = queue_module.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._work.put((future, lambda: fn(*args, **kwargs)))
        return future

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            future, fn = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for _ in self._threads:
            self._work.put(None)
        if wait:
            for thread in self._threads:
                thread.join()
