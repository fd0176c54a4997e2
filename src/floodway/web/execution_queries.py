"""Read-only queries on the executions table for the console: the filtered log with keyset paging,
and the dashboard's figures (console-ux.md §3.2, §3.12).

The log selects only the columns its rows show (not the info lines, output or HTTP calls), pages
by id (``id < before``, newest first; ids grow with time) and narrows by start time first, so a
page costs one indexed range scan however many executions are kept. The record filter compares
the trigger's ``record_id`` (indexed, migration 0007); the module filter matches the stored trigger
JSON as text and is then checked exactly in Python. The dashboard and the run counts aggregate in
SQL over ``ix_executions_recent``, so no page reads every execution of a range. The dashboard
reads only the hourly counters (``execution_hourly``, kept by triggers, migration 0008); its
duration percentiles are approximate to the counters' histogram buckets.
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
H = fs.execution_hourly
HOUR_MS: Final = 3_600_000

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
    q = _filtered(crm, sa.select(*cols), f, now_ms)
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


def newer_count(crm: Any, f: LogFilter, now_ms: int, after_id: int, cap: int = 100) -> int:
    """How many executions matching ``f`` are newer than ``after_id`` (at most ``cap``): the
    live log's "N new — show". The module filter is the trigger text match, not re-checked."""
    newer = _filtered(crm, sa.select(E.c.id), f, now_ms).where(E.c.id > after_id)
    inner = newer.order_by(E.c.id.desc()).limit(cap).subquery()
    with read_transaction(crm.engine) as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one())


def _filtered(crm: Any, q: Any, f: LogFilter, now_ms: int) -> Any:
    """``q`` over executions narrowed by ``f`` (all but the module's exact check)."""
    q = q.where(E.c.org_id == crm.org_id)
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
    return q


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


def hourly_run_counts(crm: Any, since_ms: int) -> dict[str, list[int]]:
    """Runs and failures per function from the hour holding ``since_ms`` on, read from the
    hourly counters (``execution_hourly``): a few rows per function and hour instead of every
    execution of the range. The window starts at that hour, so it holds up to an hour more."""
    failed = sa.func.sum(sa.case((H.c.status == "failure", H.c.runs), else_=0))
    q = (
        sa.select(H.c.function, sa.func.sum(H.c.runs).label("n"), failed.label("f"))
        .where(H.c.org_id == crm.org_id, H.c.hour >= since_ms // HOUR_MS)
        .group_by(H.c.function)
    )
    with read_transaction(crm.engine) as conn:
        return {str(r.function): [int(r.n or 0), int(r.f or 0)] for r in conn.execute(q).all()}


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
    """The dashboard's figures from the hourly counters (``execution_hourly``, migration 0008):
    a few hundred counter rows per range however many executions it holds. Only the top
    failing functions' latest runs (at most 10 each, newest first by index) come from the
    executions table. Duration percentiles are approximate to the histogram bucket (see
    ``histogram_percentile``)."""
    span_s, bucket_s = DASH_RANGES.get(range_key, DASH_RANGES["24h"])
    range_key = range_key if range_key in DASH_RANGES else "24h"
    bucket_ms = bucket_s * 1000
    first_bucket = (now_ms - span_s * 1000) // bucket_ms + 1
    since_ms = first_bucket * bucket_ms
    since_hour = since_ms // HOUR_MS
    prev_hour = (since_ms - span_s * 1000) // HOUR_MS
    hist = [H.c[c] for c in fs.HISTOGRAM_COLUMNS]
    with read_transaction(crm.engine) as conn:
        counts = conn.execute(
            sa.select(H.c.hour, H.c.status, sa.func.sum(H.c.runs).label("n"))
            .where(H.c.org_id == crm.org_id, H.c.hour >= since_hour)
            .group_by(H.c.hour, H.c.status)
        ).all()
        previous = conn.execute(
            sa.select(H.c.status, sa.func.sum(H.c.runs).label("n"))
            .where(H.c.org_id == crm.org_id, H.c.hour >= prev_hour, H.c.hour < since_hour)
            .group_by(H.c.status)
        ).all()
        per_status = conn.execute(
            sa.select(
                H.c.function,
                H.c.status,
                sa.func.sum(H.c.runs).label("n"),
                sa.func.max(H.c.statements_max).label("s"),
                sa.func.max(H.c.duration_max).label("d"),
                *(sa.func.sum(h).label(h.name) for h in hist),
            )
            .where(
                H.c.org_id == crm.org_id,
                H.c.hour >= since_hour,
                H.c.status.in_(("success", "failure")),
            )
            .group_by(H.c.function, H.c.status)
        ).all()
        fns: dict[str, dict[str, Any]] = {}
        all_hist = [0] * len(hist)
        all_max = 0.0
        for r in per_status:
            if not int(r.n or 0):
                continue  # every run of it moved to another status (mark_failure)
            f = fns.setdefault(
                str(r.function), {"n": 0, "f": 0, "s": 0, "d": 0.0, "h": [0] * len(hist)}
            )
            f["n"] += int(r.n)
            f["f"] += int(r.n) if r.status == "failure" else 0
            f["s"] = max(f["s"], int(r.s or 0))
            f["d"] = max(f["d"], float(r.d or 0.0))
            all_max = max(all_max, float(r.d or 0.0))
            for i, h in enumerate(fs.HISTOGRAM_COLUMNS):
                v = int(getattr(r, h) or 0)
                f["h"][i] += v
                all_hist[i] += v
        failing_names = sorted(
            (k for k, v in fns.items() if v["f"]), key=lambda k: (-fns[k]["f"], k)
        )
        failures = failing_names[:5]
        last_errors: dict[str, str] = {}
        last_ids: dict[str, str] = {}
        streaks: dict[str, int] = {}
        for name in failures:
            recent = conn.execute(
                sa.select(E.c.id, E.c.status, E.c.error)
                .where(E.c.org_id == crm.org_id, E.c.function == name)
                .where(E.c.status.in_(("success", "failure")))
                .order_by(E.c.id.desc())
                .limit(10)
            ).all()
            streak = 0
            for r in recent:
                if r.status != "failure":
                    break
                streak += 1
            streaks[name] = streak
            last: Any = next((r for r in recent if r.status == "failure"), None)
            if last is None:  # the newest failure is older than its 10 latest runs
                # No time condition: the function failed within the range, so its newest
                # failure is in it; a start-time bound would make SQLite sort the range.
                last = conn.execute(
                    sa.select(E.c.id, E.c.error)
                    .where(E.c.org_id == crm.org_id, E.c.function == name)
                    .where(E.c.status == "failure")
                    .order_by(E.c.id.desc())
                    .limit(1)
                ).first()
            err = last.error if last is not None else None
            last_ids[name] = str(last.id) if last is not None else ""
            last_errors[name] = (err or {}).get("message", "") if isinstance(err, dict) else ""
    n_buckets = span_s // bucket_s
    buckets = [(first_bucket + i) * bucket_s for i in range(n_buckets)]
    index = {first_bucket + i: i for i in range(n_buckets)}
    series = {s: [0] * n_buckets for s in ("success", "failure", "skipped")}
    totals: dict[str, int] = defaultdict(int)
    for r in counts:
        totals[r.status] += int(r.n or 0)
        slot = index.get(int(r.hour) * HOUR_MS // bucket_ms)
        if slot is not None and r.status in series:
            series[r.status][slot] += int(r.n or 0)
    per_function: list[dict[str, Any]] = [
        {
            "name": name,
            "runs": v["n"],
            "failures": v["f"],
            "p50": histogram_percentile(v["h"], 50, v["d"]),
            "p95": histogram_percentile(v["h"], 95, v["d"]),
        }
        for name, v in fns.items()
    ]
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
        totals={k: v for k, v in totals.items() if v},
        previous={r.status: int(r.n or 0) for r in previous if int(r.n or 0)},
        p95_ms=histogram_percentile(all_hist, 95, all_max),
        per_function=per_function,
        failing=[
            {
                "name": name,
                "failures": fns[name]["f"],
                "last_id": last_ids.get(name, ""),
                "last_error": last_errors.get(name, ""),
                "in_a_row": streaks.get(name, 0),
            }
            for name in failures
        ],
        statements=[
            {"name": k, "max": v["s"]}
            for k, v in sorted(fns.items(), key=lambda kv: (-kv[1]["s"], kv[0]))[:5]
        ],
        busiest=busiest,
    )


def histogram_percentile(counts: list[int], pct: float, largest: float) -> float | None:
    """Nearest-rank percentile of durations counted in the ``execution_hourly`` histogram:
    the upper bound of the bucket holding that rank, never above the largest duration counted
    (so the open last bucket and a range of one run give real values). Approximate to the
    bucket: the true value lies between the bucket's lower bound and the figure returned."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = max(1, -(-total * pct // 100))
    seen = 0
    for i, n in enumerate(counts):
        seen += n
        if seen >= rank:
            bounds = fs.DURATION_BOUNDS_MS
            return float(min(bounds[i], largest)) if i < len(bounds) else float(largest)
    return float(largest)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (``None`` for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]
