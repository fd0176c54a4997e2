"""Read-only queries on the executions table for the console: the filtered log with keyset paging,
and the dashboard's figures (console-ux.md §3.2, §3.12).

The log selects only the columns its rows show (not the info lines, output or HTTP calls), pages
by id (``id < before``, newest first; ids grow with time) and narrows by start time first, so a
page costs one indexed range scan however many executions are kept. The record filter compares
the trigger's ``record_id`` (indexed, migration 0007); the module filter matches the stored trigger
JSON as text and is then checked exactly in Python. The dashboard and the run counts aggregate in
SQL over ``ix_executions_recent``, so no page reads every execution of a range; the dashboard's
duration percentiles come from the newest 5,000 runs of the range.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa

from floodway.db import read_transaction
from floodway.functions import schema as fs
from floodway.functions.model import ms_to_iso

E = fs.executions

STATUSES: Final = ("success", "failure", "skipped", "running")
TRIGGERS: Final = (
    "workflow",
    "button",
    "related_list",
    "validation",
    "schedule",
    "rest",
    "manual",
    "cli",
)
RANGES: Final = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "all": 0}
DASH_SAMPLE: Final = 5_000  # newest runs of a range the duration percentiles are taken from
DASH_RANGES: Final = {"24h": (86400, 3600), "7d": (7 * 86400, 6 * 3600), "30d": (30 * 86400, 86400)}


@dataclass
class LogFilter:
    function: str = ""
    status: str = ""
    trigger: str = ""
    module: str = ""
    record: str = ""
    range: str = "24h"
    since_ms: int | None = None
    until_ms: int | None = None
    q: str = ""
    before: str = ""

    def query(self) -> dict[str, str]:
        """The filter as query parameters (empty ones left out), for links and paging."""
        out = {
            "function": self.function,
            "status": self.status,
            "trigger": self.trigger,
            "module": self.module,
            "record": self.record,
            "range": "" if self.range == "24h" else self.range,
            "q": self.q,
        }
        return {k: v for k, v in out.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.query())


def record_id_of(text: str) -> str:
    """A record id from an id or a pasted record URL (``…/m/Deals/4150…``)."""
    digits = re.findall(r"\d{6,20}", text or "")
    return digits[-1] if digits else ""


@dataclass
class LogPage:
    rows: list[dict[str, Any]] = field(default_factory=list)
    older: str | None = None  # id to pass as ``before`` for the next page


def log_page(crm: Any, f: LogFilter, now_ms: int, limit: int = 50) -> LogPage:
    cols = [
        E.c.id,
        E.c.function,
        E.c.version,
        E.c.trigger_type,
        E.c.trigger,
        E.c.status,
        E.c.error,
        E.c.statements,
        E.c.duration_ms,
        E.c.started_time,
        E.c.chain_depth,
        E.c.rerun_of,
    ]
    q = sa.select(*cols).where(E.c.org_id == crm.org_id)
    if f.function:
        q = q.where(sa.func.lower(E.c.function) == f.function.lower())
    if f.status in STATUSES:
        q = q.where(E.c.status == f.status)
    if f.trigger:
        q = q.where(E.c.trigger_type == f.trigger)
    seconds = RANGES.get(f.range, RANGES["24h"])
    # ``started_time + 0``: the time range filters the rows met while walking newest first by
    # id; as an index range (ix_executions_recent) it would read and sort the whole range.
    started = E.c.started_time + 0
    if f.since_ms is not None:
        q = q.where(started >= f.since_ms)
    elif seconds:
        q = q.where(started >= now_ms - seconds * 1000)
    if f.until_ms is not None:
        q = q.where(started < f.until_ms)
    if f.before.isdigit():
        q = q.where(E.c.id < int(f.before))
    text = sa.cast(E.c.trigger, sa.Text)
    record = record_id_of(f.record)
    if record:
        # The trigger's record, through ix_executions_record (migration 0007), not a text scan.
        q = q.where(trigger_record(crm.engine.dialect.name) == record)
    if f.module:
        q = q.where(text.like(f"%{_like(f.module)}%", escape="\\"))
    if f.q:
        needle = f"%{_like(f.q.lower())}%"
        q = q.where(
            sa.or_(
                sa.func.lower(sa.cast(E.c.error, sa.Text)).like(needle, escape="\\"),
                sa.func.lower(sa.cast(E.c.info, sa.Text)).like(needle, escape="\\"),
            )
        )
    # One row more than shown tells whether older rows exist; post-filtering may drop a few,
    # so read a little more than a page.
    q = q.order_by(E.c.id.desc()).limit(limit * 2 + 1)
    with read_transaction(crm.engine) as conn:
        raw = conn.execute(q).all()
    rows = []
    last_seen = None
    for r in raw:
        last_seen = r.id
        trig = r.trigger if isinstance(r.trigger, dict) else {}
        if f.module and str(trig.get("module") or "").lower() != f.module.lower():
            continue
        rows.append(_row(r, trig))
        if len(rows) == limit:
            break
    older = None
    if rows and (len(raw) > limit * 2 or len(rows) == limit):
        older = rows[-1]["id"] if len(rows) == limit else str(last_seen)
    return LogPage(rows, older)


def trigger_record(dialect: str) -> Any:
    """The trigger's ``record_id`` as text, written exactly as ``ix_executions_record`` is."""
    if dialect == "postgresql":
        return E.c.trigger.op("->>")(sa.literal_column("'record_id'"))
    return sa.func.json_extract(E.c.trigger, sa.literal_column("'$.record_id'"))


def run_counts(crm: Any, since_ms: int, function: str | None = None) -> dict[Any, list[int]]:
    """Runs and failures since ``since_ms`` per function (or, given one, per version of it):
    ``{key: [runs, failures]}``, ``running`` rows left out. One grouped read of
    ``ix_executions_recent`` (migration 0007) instead of every row of the range."""
    key = E.c.version if function is not None else E.c.function
    failed = sa.func.sum(sa.case((E.c.status == "failure", 1), else_=0))
    q = (
        sa.select(key.label("k"), sa.func.count().label("n"), failed.label("f"))
        .where(
            E.c.org_id == crm.org_id,
            E.c.started_time >= since_ms,
            E.c.status.in_(("success", "failure", "skipped")),
        )
        .group_by(key)
    )
    if function is not None:
        q = q.where(E.c.function == function)
    with read_transaction(crm.engine) as conn:
        return {r.k: [int(r.n), int(r.f or 0)] for r in conn.execute(q).all()}


def last_run(crm: Any, function: str) -> dict[str, Any] | None:
    """The newest execution of a function (by its stored api name), through
    ``ix_executions_function``."""
    q = (
        sa.select(E.c.id, E.c.status, E.c.started_time, E.c.duration_ms)
        .where(E.c.org_id == crm.org_id, E.c.function == function)
        .order_by(E.c.id.desc())
        .limit(1)
    )
    with read_transaction(crm.engine) as conn:
        r = conn.execute(q).first()
    if r is None:
        return None
    return {
        "id": str(r.id),
        "status": r.status,
        "started_at": ms_to_iso(r.started_time),
        "duration_ms": r.duration_ms,
    }


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _row(r: Any, trig: dict[str, Any]) -> dict[str, Any]:
    error = r.error if isinstance(r.error, dict) else None
    message = str(error.get("message") or "") if error else ""
    return {
        "id": str(r.id),
        "function": r.function,
        "version": r.version,
        "trigger_type": r.trigger_type,
        "trigger": trig,
        "status": r.status,
        "error_kind": error.get("kind") if error else None,
        "error_line": message.splitlines()[0][:200] if message else "",
        "statements": r.statements,
        "duration_ms": r.duration_ms,
        "started_at": ms_to_iso(r.started_time),
        "chain_depth": r.chain_depth,
        "rerun_of": str(r.rerun_of) if r.rerun_of is not None else None,
    }


def chain(crm: Any, chain_id: str | None, limit: int = 50) -> list[dict[str, Any]]:
    """Executions of one causal chain, oldest first (the detail page's tree)."""
    if not chain_id or not str(chain_id).isdigit():
        return []
    q = (
        sa.select(
            E.c.id,
            E.c.function,
            E.c.version,
            E.c.trigger_type,
            E.c.trigger,
            E.c.status,
            E.c.error,
            E.c.statements,
            E.c.duration_ms,
            E.c.started_time,
            E.c.chain_depth,
            E.c.rerun_of,
        )
        .where(E.c.org_id == crm.org_id, E.c.chain_id == int(chain_id))
        .order_by(E.c.id)
        .limit(limit)
    )
    with read_transaction(crm.engine) as conn:
        rows = conn.execute(q).all()
    return [_row(r, r.trigger if isinstance(r.trigger, dict) else {}) for r in rows]


def reruns_of(crm: Any, execution_id: str) -> list[str]:
    if not execution_id.isdigit():
        return []
    q = (
        sa.select(E.c.id)
        .where(E.c.org_id == crm.org_id, E.c.rerun_of == int(execution_id))
        .order_by(E.c.id)
        .limit(20)
    )
    with read_transaction(crm.engine) as conn:
        return [str(r.id) for r in conn.execute(q).all()]


def record_executions(crm: Any, record_id: str, limit: int = 5) -> list[dict[str, Any]]:
    """The latest executions whose trigger names a record (the record page's panel)."""
    f = LogFilter(record=record_id, range="30d")
    return log_page(crm, f, crm.now_ms(), limit=limit).rows


def function_names(crm: Any) -> list[str]:
    q = (
        sa.select(fs.functions.c.api_name)
        .where(fs.functions.c.org_id == crm.org_id)
        .order_by(fs.functions.c.api_key)
    )
    with read_transaction(crm.engine) as conn:
        return [r.api_name for r in conn.execute(q).all()]


# ---------------------------------------------------------------------------------- dashboard


@dataclass
class Dashboard:
    range: str
    since_ms: int
    bucket_s: int
    buckets: list[int]  # bucket start times (s)
    series: dict[str, list[int]]  # status -> count per bucket
    totals: dict[str, int]
    previous: dict[str, int]
    p95_ms: float | None
    per_function: list[dict[str, Any]]  # name, runs, failures, p50, p95
    failing: list[dict[str, Any]]  # name, failures, last error, in a row
    statements: list[dict[str, Any]]  # name, max statements
    busiest: int | None  # bucket start (s) with most runs


def dashboard(crm: Any, range_key: str, now_ms: int) -> Dashboard:
    span_s, bucket_s = DASH_RANGES.get(range_key, DASH_RANGES["24h"])
    range_key = range_key if range_key in DASH_RANGES else "24h"
    bucket_ms = bucket_s * 1000
    first_bucket = (now_ms - span_s * 1000) // bucket_ms + 1
    since_ms = first_bucket * bucket_ms
    base = sa.and_(E.c.org_id == crm.org_id, E.c.started_time >= since_ms)
    bucket = E.c.started_time // bucket_ms  # integer division on both databases
    with read_transaction(crm.engine) as conn:
        counts = conn.execute(
            sa.select(bucket.label("b"), E.c.status, sa.func.count().label("n"))
            .where(base)
            .group_by(bucket, E.c.status)
        ).all()
        previous = conn.execute(
            sa.select(E.c.status, sa.func.count().label("n"))
            .where(
                E.c.org_id == crm.org_id,
                E.c.started_time >= since_ms - span_s * 1000,
                E.c.started_time < since_ms,
            )
            .group_by(E.c.status)
        ).all()
        finished = sa.and_(base, E.c.status.in_(("success", "failure")))
        failed = E.c.status == "failure"
        per_fn = conn.execute(
            sa.select(
                E.c.function,
                sa.func.count().label("n"),
                sa.func.sum(sa.case((failed, 1), else_=0)).label("f"),
                sa.func.max(E.c.statements).label("s"),
                sa.func.max(sa.case((failed, E.c.id), else_=None)).label("last"),
            )
            .where(finished)
            .group_by(E.c.function)
        ).all()
        # Percentiles from the newest runs of the range (an index read, newest first): exact
        # ones would sort every duration of the range on each view.
        sample = conn.execute(
            sa.select(E.c.function, E.c.duration_ms)
            .where(finished)
            .order_by(E.c.started_time.desc())
            .limit(DASH_SAMPLE)
        ).all()
        failures = sorted((r for r in per_fn if r.f), key=lambda r: (-int(r.f), str(r.function)))[
            :5
        ]
        last_errors = {}
        streaks = {}
        for f in failures:
            recent = conn.execute(
                sa.select(E.c.status, E.c.error)
                .where(E.c.org_id == crm.org_id, E.c.function == f.function)
                .where(E.c.status.in_(("success", "failure")))
                .order_by(E.c.id.desc())
                .limit(10)
            ).all()
            streak = 0
            for r in recent:
                if r.status != "failure":
                    break
                streak += 1
            streaks[f.function] = streak
            err = recent[0].error if recent and recent[0].status == "failure" else None
            if err is None:
                row = conn.execute(sa.select(E.c.error).where(E.c.id == f.last)).first()
                err = row.error if row else None
            last_errors[f.function] = (
                (err or {}).get("message", "") if isinstance(err, dict) else ""
            )
    n_buckets = span_s // bucket_s
    buckets = [(first_bucket + i) * bucket_s for i in range(n_buckets)]
    index = {first_bucket + i: i for i in range(n_buckets)}
    series = {s: [0] * n_buckets for s in ("success", "failure", "skipped")}
    totals: dict[str, int] = defaultdict(int)
    for r in counts:
        totals[r.status] += int(r.n)
        i = index.get(int(r.b))
        if i is not None and r.status in series:
            series[r.status][i] += int(r.n)
    durations: dict[str, list[float]] = defaultdict(list)
    for r in sample:
        durations[str(r.function)].append(float(r.duration_ms))
    per_function: list[dict[str, Any]] = [
        {
            "name": str(r.function),
            "runs": int(r.n),
            "failures": int(r.f or 0),
            "p50": percentile(durations.get(str(r.function), []), 50),
            "p95": percentile(durations.get(str(r.function), []), 95),
        }
        for r in per_fn
    ]
    max_statements = {str(r.function): int(r.s or 0) for r in per_fn}
    overall_p95 = percentile([float(r.duration_ms) for r in sample], 95)
    per_function.sort(key=lambda x: (-float(x["p95"] or 0), str(x["name"])))
    totals_by_bucket = [sum(series[s][i] for s in series) for i in range(n_buckets)]
    busiest = None
    if any(totals_by_bucket):
        busiest = buckets[max(range(n_buckets), key=lambda i: totals_by_bucket[i])]
    return Dashboard(
        range=range_key,
        since_ms=since_ms,
        bucket_s=bucket_s,
        buckets=buckets,
        series=series,
        totals=dict(totals),
        previous={r.status: int(r.n) for r in previous},
        p95_ms=overall_p95,
        per_function=per_function,
        failing=[
            {
                "name": f.function,
                "failures": int(f.f),
                "last_id": str(f.last),
                "last_error": last_errors.get(f.function, ""),
                "in_a_row": streaks.get(f.function, 0),
            }
            for f in failures
        ],
        statements=[
            {"name": k, "max": v}
            for k, v in sorted(max_statements.items(), key=lambda kv: -kv[1])[:5]
        ],
        busiest=busiest,
    )


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (``None`` for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]
