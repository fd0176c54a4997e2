"""What handlers see (``Job``, ``RetryLater``), the engine's settings and its retry arithmetic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

Clock = Callable[[], dt.datetime]
Handler = Callable[["Job"], None]
TickHandler = Callable[[int], None]

MAX_BACKOFF_S: Final = 300.0
MAX_KEY_LENGTH: Final = 200


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Job:
    """One attempt of a job, as its handler receives it."""

    id: str
    task: str
    args: dict[str, Any]
    key: str | None
    attempt: int  # 1 = first
    recovered: bool  # an earlier attempt was running on a worker that died
    run_at_ms: int | None
    enqueued_ms: int


@dataclass(frozen=True, slots=True)
class NewJob:
    """One job of a batch for ``JobQueue.enqueue_many``."""

    task: str
    args: dict[str, Any]
    key: str | None = None
    run_at_ms: int | None = None
    lock: str | None = None  # jobs sharing a lock run one at a time, in enqueue order


class RetryLater(Exception):
    """Raised by a handler for an infrastructure failure before its action started (database,
    network): the job is tried again after ``delay_s`` or an exponential backoff, until its
    attempts are used up."""

    def __init__(self, message: str, delay_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.delay_s = delay_s


class JobError(ValueError):
    """A call the engine refuses (unknown task at enqueue, key too long, bad period...).

    ``where`` names the parameter at fault."""

    def __init__(self, code: str, message: str, where: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.where = where


@dataclass(frozen=True)
class JobSettings:
    """The engine's tuning, read from ``floodway.settings.Settings`` (or defaults)."""

    concurrency: int = 4
    max_attempts: int = 5
    heartbeat_s: float = 2.0
    stalled_after_s: float = 10.0
    poll_interval_s: float = 0.5
    retention_days: int = 7
    maintenance_every_s: float = 60.0  # purge of old keys and finished jobs

    @classmethod
    def from_settings(cls, settings: Any = None) -> JobSettings:
        d = cls()

        def get(name: str, default: Any) -> Any:
            value = getattr(settings, name, None) if settings is not None else None
            return default if value is None else value

        return cls(
            concurrency=max(1, int(get("worker_concurrency", d.concurrency))),
            max_attempts=max(1, int(get("job_max_attempts", d.max_attempts))),
            heartbeat_s=float(get("job_heartbeat_s", d.heartbeat_s)),
            stalled_after_s=float(get("job_stalled_after_s", d.stalled_after_s)),
            poll_interval_s=float(get("job_poll_interval_s", d.poll_interval_s)),
            retention_days=int(get("job_retention_days", d.retention_days)),
        )


def backoff_s(attempt: int) -> float:
    """Delay before the attempt after ``attempt``: 1, 2, 4 ... s, at most 300 s."""
    return min(MAX_BACKOFF_S, float(2 ** max(0, min(attempt - 1, 30))))


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: ``succeeded``, ``retry`` (after ``delay_s``) or ``failed``."""

    status: str
    error: str | None = None
    delay_s: float = 0.0
