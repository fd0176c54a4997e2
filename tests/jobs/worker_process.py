"""A job worker process for the tests that kill workers (run as a script).

It runs ``JobQueue.run_forever`` on the database at ``--url`` with short heartbeat settings.
Task ``test.record`` inserts a row into ``test_job_starts`` (committed) when it starts; with
``{"block": true}`` it then blocks forever unless the attempt is a recovered one. With
``--every S`` it also ticks ``test.tick`` every S seconds into ``test_ticks``.
"""

from __future__ import annotations

import argparse
import os
import time
from types import SimpleNamespace

import sqlalchemy as sa

from floodway.db import create_engine_for, write_transaction
from floodway.jobs import Job, open_queue

test_tables = sa.MetaData()
job_starts = sa.Table(
    "test_job_starts",
    test_tables,
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(40), nullable=False),
    sa.Column("label", sa.String(40), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("recovered", sa.Boolean, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
)
ticks = sa.Table(
    "test_ticks",
    test_tables,
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("due_ms", sa.BigInteger, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--heartbeat", type=float, default=0.5)
    parser.add_argument("--stalled", type=float, default=2.0)
    parser.add_argument("--poll", type=float, default=0.2)
    parser.add_argument("--every", type=float, default=None)
    parser.add_argument("--concurrency", type=int, default=2)
    options = parser.parse_args()

    engine = create_engine_for(database_url=options.url)
    settings = SimpleNamespace(
        job_heartbeat_s=options.heartbeat,
        job_stalled_after_s=options.stalled,
        job_poll_interval_s=options.poll,
    )
    queue = open_queue(engine, settings)

    def record(job: Job) -> None:
        with write_transaction(engine) as conn:
            conn.execute(
                sa.insert(job_starts).values(
                    job_id=job.id,
                    label=str(job.args.get("label", "")),
                    attempt=job.attempt,
                    recovered=job.recovered,
                    pid=os.getpid(),
                )
            )
        if job.args.get("block") and not job.recovered:
            while True:
                time.sleep(0.1)

    def tick(due_ms: int) -> None:
        with write_transaction(engine) as conn:
            conn.execute(sa.insert(ticks).values(due_ms=due_ms, pid=os.getpid()))

    queue.register("test.record", record)
    if options.every:
        queue.every("test.tick", options.every, tick)
    queue.run_forever(options.concurrency, shutdown_timeout_s=5.0)
    engine.dispose()


if __name__ == "__main__":
    main()
