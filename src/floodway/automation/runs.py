"""Exactly-once bookkeeping of workflow actions (``action_runs``, keyed by the action's job key).

A job can be delivered more than once: a worker dies and its job is recovered, or a retry follows
an infrastructure error. The job engine cannot know whether the action had started; this table
can. A function action notes its key (with a pre-allocated execution id) and commits *before* the
run starts, and sets ``finished_ms`` after it ends: a recovered job that finds the key unfinished
does not run the function again but reports the execution as interrupted (functions-platform.md
§8.4: Deluge runs are never repeated automatically). Webhooks and e-mails write their key in the
transaction that queues them, field updates and tasks in the transaction of their write, so for
them the key's presence alone means "done".
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import schema as _schema
from .sql import insert_ignore

__all__ = ["done", "finish", "get", "start"]

T = _schema.action_runs


_GET = sa.select(T).where(T.c.key == sa.bindparam("key"))
_FINISH = (
    T.update().where(T.c.key == sa.bindparam("run_key")).values(finished_ms=sa.bindparam("at"))
)


def get(conn: Connection, key: str) -> Any:
    """The row of ``key`` (``started_ms``, ``finished_ms``, ``execution_id``) or None."""
    return conn.execute(_GET, {"key": key}).first()


def start(conn: Connection, key: str, now_ms: int, execution_id: int | None) -> bool:
    """Note that the action of ``key`` starts now; False when it had started before."""
    return insert_ignore(
        conn,
        T,
        {"key": key, "started_ms": now_ms, "finished_ms": None, "execution_id": execution_id},
    )


def finish(conn: Connection, key: str, now_ms: int) -> None:
    conn.execute(_FINISH, {"run_key": key, "at": now_ms})


def done(conn: Connection, key: str, now_ms: int) -> bool:
    """Note the action of ``key`` as started and finished in one go (its effect is written in
    the same transaction); False when it was noted before."""
    return insert_ignore(
        conn,
        T,
        {"key": key, "started_ms": now_ms, "finished_ms": now_ms, "execution_id": None},
    )
