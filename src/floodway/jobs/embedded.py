"""The embedded backend: jobs in the application's own database (SQLite), worker threads in
the process.

- A job is claimed by one write transaction (``todo`` -> ``doing`` with this process's worker
  id, one ``UPDATE … RETURNING``); SQLite serialises writers, so two workers never claim the
  same job. The result of a thread's previous job is recorded in the transaction that claims
  its next one (one commit per job: writers queue on SQLite's single write lock).
- Idle worker threads wait on a condition: ``enqueue`` in this process wakes one at once (its
  claim then waits for the enqueuing transaction to commit, since both take the write lock);
  jobs of other processes and delayed jobs are found by polling every ``job_poll_interval_s``.
- Every process has a ``job_workers`` row whose heartbeat it refreshes every ``job_heartbeat_s``
  (wall clock). A ``doing`` job whose worker has been silent for ``job_stalled_after_s`` is set
  back to ``todo`` with ``recovered`` set, or failed once its attempts are used up. Any live
  process does this, a newly started one included.
- Times of jobs (due, created, finished) come from the injected clock, so tests move the clock
  instead of sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from floodway.db import read_transaction, write_transaction

from .base import JobQueue
from .keys import purge_keys
from .model import Clock, Job, NewJob, Outcome
from .schema import job_workers, jobs

log = logging.getLogger("floodway.jobs")

STATUSES = ("todo", "doing", "succeeded", "failed")
DIED = "the worker running this job stopped responding"


def _wall_ms() -> int:
    return int(time.time() * 1000)


class EmbeddedQueue(JobQueue):
    backend = "embedded"

    def __init__(self, engine: Engine, settings: Any = None, clock: Clock | None = None) -> None:
        super().__init__(engine, settings, clock)
        self.worker_id: int | None = None
        self._wake = threading.Condition()
        self._generation = 0  # bumped by every wake-up, so none is lost between check and wait
        self._threads: list[threading.Thread] = []
        # Built once: the statements every claim runs.
        other = jobs.alias("other")
        lock_busy = (
            sa.select(other.c.id)
            .where(
                other.c.lock == jobs.c.lock,
                sa.or_(
                    other.c.status == "doing",
                    sa.and_(other.c.status == "todo", other.c.id < jobs.c.id),
                ),
            )
            .exists()
        )
        due = sa.and_(
            jobs.c.status == "todo",
            sa.or_(jobs.c.run_at_ms.is_(None), jobs.c.run_at_ms <= sa.bindparam("now")),
            # A job with a lock waits for the earlier and the running jobs of its lock.
            sa.or_(jobs.c.lock.is_(None), sa.not_(lock_busy)),
        )
        self._peek = sa.select(jobs.c.id).where(due).limit(1)
        first_due = (
            sa.select(jobs.c.id)
            .where(due)
            .order_by(jobs.c.run_at_ms, jobs.c.id)
            .limit(1)
            .scalar_subquery()
        )
        self._take = (
            sa.update(jobs)
            .where(jobs.c.id == first_due)
            .values(
                status="doing",
                attempts=jobs.c.attempts + 1,
                worker_id=sa.bindparam("worker"),
                started_ms=sa.bindparam("now"),
            )
            .returning(*jobs.c)
        )

    # ---------------------------------------------------------------- enqueue

    def _insert_jobs(self, conn: Connection, batch: list[NewJob]) -> None:
        now = self.now_ms()
        conn.execute(
            sa.insert(jobs),
            [
                {
                    "task": new.task,
                    "args": new.args,
                    "key": new.key,
                    "status": "todo",
                    "run_at_ms": new.run_at_ms,
                    "attempts": 0,
                    "max_attempts": self._max_attempts(new.task),
                    "recovered": False,
                    "created_ms": now,
                    "lock": new.lock,
                }
                for new in batch
            ],
        )
        due = sum(1 for new in batch if new.run_at_ms is None or new.run_at_ms <= now)
        if due:
            self._notify(due)

    def _notify(self, n: int = 1) -> None:
        with self._wake:
            self._generation += 1
            self._wake.notify(n)

    # ---------------------------------------------------------------- workers

    def _start_workers(self, concurrency: int) -> None:
        self._register_worker()
        self._recover_stalled()
        self._threads = [
            threading.Thread(target=self._maintain, name="floodway-jobs-heartbeat", daemon=True)
        ]
        self._threads += [
            threading.Thread(target=self._work, name=f"floodway-job-{i}", daemon=True)
            for i in range(concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def _stop_workers(self, timeout: float) -> None:
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        self._threads = []
        if alive:
            # Jobs still running: keep the worker row; once the process exits its heartbeat
            # stops and another worker recovers them.
            log.warning("%d worker thread(s) still running a job at stop", len(alive))
            return
        if self.worker_id is not None:
            with write_transaction(self.engine) as conn:
                conn.execute(sa.delete(job_workers).where(job_workers.c.id == self.worker_id))
            self.worker_id = None

    def _register_worker(self) -> None:
        now = _wall_ms()
        with write_transaction(self.engine) as conn:
            self.worker_id = conn.execute(
                sa.insert(job_workers)
                .values(
                    pid=os.getpid(),
                    host=socket.gethostname()[:255],
                    heartbeat_ms=now,
                    started_ms=now,
                )
                .returning(job_workers.c.id)
            ).scalar_one()

    def _work(self) -> None:
        seen = self._generation
        finished: tuple[Job, Outcome] | None = None  # recorded with the next claim
        while True:
            if self._stopping.is_set():
                if finished is not None:
                    self._finish_safely(*finished)
                return
            generation = self._generation
            notified, seen = generation != seen, generation
            try:
                claimed = self._claim(
                    look_first=not notified and finished is None, finished=finished
                )
            except Exception:
                log.exception("claiming a job failed")
                if finished is not None:  # its result was rolled back with the claim
                    self._finish_safely(*finished)
                claimed = None
            else:
                if finished is not None:
                    self._after_finish(finished[1])
            finished = None
            if claimed is None:
                with self._wake:
                    if self._generation == generation and not self._stopping.is_set():
                        self._wake.wait(self.settings.poll_interval_s)
                continue
            job, max_attempts = claimed
            finished = (job, self._execute(job, max_attempts))

    def _claim(
        self, look_first: bool, finished: tuple[Job, Outcome] | None = None
    ) -> tuple[Job, int] | None:
        """Take the next due job; ``finished`` (the previous job of this thread and how it
        ended) is recorded in the same write transaction: one commit per job."""
        now = self.now_ms()
        if look_first:
            # A poll: look first without the write lock, which API writes need. After a
            # wake-up the job may not be committed yet: the write lock waits for it.
            with read_transaction(self.engine) as conn:
                if conn.execute(self._peek, {"now": now}).first() is None:
                    return None
        with write_transaction(self.engine) as conn:
            if finished is not None:
                self._record(conn, *finished)
            row = conn.execute(self._take, {"now": now, "worker": self.worker_id}).first()
        if row is None:
            return None
        job = Job(
            id=str(row.id),
            task=row.task,
            args=dict(row.args or {}),
            key=row.key,
            attempt=row.attempts,
            recovered=bool(row.recovered),
            run_at_ms=row.run_at_ms,
            enqueued_ms=row.created_ms,
        )
        return job, row.max_attempts

    def _finish(self, job: Job, outcome: Outcome) -> None:
        with write_transaction(self.engine) as conn:
            self._record(conn, job, outcome)
        self._after_finish(outcome)

    def _finish_safely(self, job: Job, outcome: Outcome) -> None:
        try:
            self._finish(job, outcome)
        except Exception:
            log.exception("recording a job's result failed", extra={"job_id": job.id})

    def _record(self, conn: Connection, job: Job, outcome: Outcome) -> None:
        now = self.now_ms()
        values: dict[str, Any] = {"worker_id": None, "last_error": outcome.error}
        if outcome.status == "retry":
            values.update(status="todo", run_at_ms=now + int(outcome.delay_s * 1000))
        else:
            values.update(status=outcome.status, finished_ms=now)
        # Only while it is still ours: a worker judged dead has lost its jobs.
        conn.execute(
            sa.update(jobs)
            .where(
                jobs.c.id == int(job.id),
                jobs.c.status == "doing",
                jobs.c.worker_id == self.worker_id,
            )
            .values(**values)
        )

    def _after_finish(self, outcome: Outcome) -> None:
        if outcome.status == "retry" and outcome.delay_s <= 0:
            self._notify()

    # ---------------------------------------------------------------- heartbeat, recovery

    def _maintain(self) -> None:
        next_purge = time.monotonic()
        while not self._stopping.wait(self.settings.heartbeat_s):
            try:
                self._heartbeat()
                if self._recover_stalled():
                    with self._wake:
                        self._generation += 1
                        self._wake.notify_all()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + self.settings.maintenance_every_s
                    self.purge()
            except Exception:
                log.exception("job engine maintenance failed")

    def _heartbeat(self) -> None:
        now = _wall_ms()
        with write_transaction(self.engine) as conn:
            updated = conn.execute(
                sa.update(job_workers)
                .where(job_workers.c.id == self.worker_id)
                .values(heartbeat_ms=now)
            ).rowcount
            if not updated:
                # Judged dead by another process (a long pause): its jobs were recovered
                # there; come back under the same id.
                conn.execute(
                    sa.insert(job_workers).values(
                        id=self.worker_id,
                        pid=os.getpid(),
                        host=socket.gethostname()[:255],
                        heartbeat_ms=now,
                        started_ms=now,
                    )
                )

    def _recover_stalled(self) -> int:
        """Set the jobs of silent workers back to ``todo`` (``recovered``), or fail them when
        their attempts are used up; forget the silent workers. Returns the jobs set back."""
        stale_before = _wall_ms() - int(self.settings.stalled_after_s * 1000)
        live = sa.select(job_workers.c.id).where(job_workers.c.heartbeat_ms >= stale_before)
        orphaned = sa.and_(
            jobs.c.status == "doing",
            sa.or_(jobs.c.worker_id.is_(None), jobs.c.worker_id.not_in(live)),
        )
        with write_transaction(self.engine) as conn:
            failed = conn.execute(
                sa.update(jobs)
                .where(orphaned, jobs.c.attempts >= jobs.c.max_attempts)
                .values(
                    status="failed",
                    recovered=True,
                    worker_id=None,
                    finished_ms=self.now_ms(),
                    last_error=f"{DIED} (gave up after its last attempt)",
                )
            ).rowcount
            recovered = conn.execute(
                sa.update(jobs)
                .where(orphaned)
                .values(status="todo", recovered=True, worker_id=None, last_error=DIED)
            ).rowcount
            conn.execute(sa.delete(job_workers).where(job_workers.c.heartbeat_ms < stale_before))
        if failed or recovered:
            log.warning("recovered %d job(s) of stopped workers, failed %d", recovered, failed)
        return recovered

    def purge(self) -> None:
        now = self.now_ms()
        old = now - self.settings.retention_days * 86_400_000
        with write_transaction(self.engine) as conn:
            purge_keys(conn, now, self.settings.retention_days)
            conn.execute(
                sa.delete(jobs).where(
                    jobs.c.status.in_(("succeeded", "failed")), jobs.c.finished_ms < old
                )
            )

    # ---------------------------------------------------------------- observing

    def counts(self) -> dict[str, int]:
        result = dict.fromkeys(STATUSES, 0)
        with read_transaction(self.engine) as conn:
            for status, n in conn.execute(
                sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
            ):
                result[status] = result.get(status, 0) + n
        return result

    def _idle(self) -> bool:
        now = self.now_ms()
        with read_transaction(self.engine) as conn:
            busy = conn.execute(
                sa.select(jobs.c.id)
                .where(
                    sa.or_(
                        jobs.c.status == "doing",
                        sa.and_(
                            jobs.c.status == "todo",
                            sa.or_(jobs.c.run_at_ms.is_(None), jobs.c.run_at_ms <= now),
                        ),
                    )
                )
                .limit(1)
            ).first()
        return busy is None
