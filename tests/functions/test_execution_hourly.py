"""The dashboard's hourly execution counters (``execution_hourly``, migration 0008): every write
of a final status is counted once, a status change moves the run between counters, the duration
histogram and its percentiles, the purge, the backfill of existing executions, and the dashboard
figures read from the counters."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from floodway.crm.testing import BACKENDS, crm, crm_database, fresh_crm  # noqa: F401
from floodway.db import alembic_config, create_engine_for, write_transaction
from floodway.functions import schema as t
from floodway.functions.service import Functions
from floodway.web import execution_queries as q

E, H = t.executions, t.execution_hourly
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
FINAL = ("success", "failure", "skipped")


@pytest.fixture(scope="module")
def fx(crm: Any) -> Functions:  # noqa: F811
    return Functions(crm)


def deploy(fx: Functions, body: str) -> str:
    api = "fn_" + secrets.token_hex(4)
    fx.registry.create(f"string standalone.{api}()\n{{\n{body}\n}}\n", publish=True)
    return api


def row(fx: Functions, api: str, status: str, duration: float, started: int) -> dict[str, Any]:
    """A finished execution row shaped like the executor's, with a new id."""
    return row_of(fx.crm.ids.next_id(), fx.crm.org_id, api, status, duration, started)


def row_of(
    eid: int, org_id: int, api: str, status: str, duration: float, started: int
) -> dict[str, Any]:
    return {
        "id": eid,
        "org_id": org_id,
        "function_id": None,
        "function": api,
        "version": 1,
        "trigger_type": "manual",
        "trigger": {"type": "manual"},
        "status": status,
        "caller": "user",
        "run_as": None,
        "arguments": {},
        "output": None,
        "output_text": None,
        "output_truncated": False,
        "info": [],
        "error": None,
        "notes": [],
        "statements": 10,
        "http_calls": [],
        "emails": [],
        "records": [],
        "client_actions": [],
        "started_time": started,
        "finished_time": started + int(duration),
        "duration_ms": duration,
        "rerun_of": None,
        "chain_id": None,
        "chain_depth": 0,
        "node": None,
    }


def counters(engine: sa.Engine, api: str) -> dict[tuple[int, str], tuple[int, float, int]]:
    """(hour, status) -> (runs, total duration, total statements), empty counters left out."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                H.c.hour, H.c.status, H.c.runs, H.c.duration_total, H.c.statements_total
            ).where(H.c.function == api)
        ).all()
    return {
        (int(r.hour), r.status): (
            int(r.runs),
            round(float(r.duration_total), 3),
            int(r.statements_total),
        )
        for r in rows
        if r.runs
    }


def recount(engine: sa.Engine, api: str) -> dict[tuple[int, str], tuple[int, float, int]]:
    """The same figures counted from the executions themselves."""
    hour = E.c.started_time // HOUR_MS
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                hour.label("hour"),
                E.c.status,
                sa.func.count().label("n"),
                sa.func.sum(E.c.duration_ms).label("d"),
                sa.func.sum(E.c.statements).label("s"),
            )
            .where(E.c.function == api, E.c.status.in_(FINAL))
            .group_by(hour, E.c.status)
        ).all()
    return {(int(r.hour), r.status): (int(r.n), round(float(r.d), 3), int(r.s)) for r in rows}


def test_every_final_write_is_counted_once(fx: Functions) -> None:
    ok = deploy(fx, '    info "x";\n    return "ok";')
    bad = deploy(fx, '    throw "bad";')
    fx.run(ok)
    fx.run(ok)
    fx.run(bad)
    fx.executor.skip(ok, {"type": "manual"}, "loop guard")
    with write_transaction(fx.crm.engine) as conn:  # a skip inside an open transaction
        fx.executor.skip(ok, {"type": "manual"}, "overlap", conn=conn)
    now = fx.crm.now_ms()
    # A running row, then its result: counted when it ends, not when it starts.
    running = row(fx, ok, "running", 0.0, now)
    fx.executions.insert_running([running])
    assert (now // HOUR_MS, "running") not in counters(fx.crm.engine, ok)
    fx.executions.insert({**running, "status": "success", "duration_ms": 12.5}, update=True)
    # A running row whose worker died: an interrupted failure.
    cut = row(fx, ok, "running", 0.0, now)
    fx.executions.insert_running([cut])
    fx.executor.interrupted(str(cut["id"]), ok, {"type": "manual"})
    fx.executor.interrupted(str(cut["id"]), ok, {"type": "manual"})  # already final: no change
    fx.executor.interrupted(str(fx.crm.ids.next_id()), ok, {"type": "manual"})  # no row yet
    # A success its caller could not use becomes a failure: moved, not counted twice.
    used = fx.run(ok)
    fx.executions.mark_failure(used.id, "invalid_result", "not XML")
    fx.executions.mark_failure(used.id, "invalid_result", "not XML")
    got = counters(fx.crm.engine, ok)
    assert got == recount(fx.crm.engine, ok)
    hour = now // HOUR_MS
    assert got[(hour, "skipped")][0] == 2
    assert got[(hour, "success")][0] == 3  # two runs and the running row that ended
    assert got[(hour, "failure")][0] == 3  # two interrupted, one marked
    assert counters(fx.crm.engine, bad) == recount(fx.crm.engine, bad)
    assert counters(fx.crm.engine, bad)[(hour, "failure")][0] == 1


def test_histogram_buckets_and_percentiles(fx: Functions) -> None:
    api = "fn_" + secrets.token_hex(4)
    now = fx.crm.now_ms()
    durations = [0.5, 3.0, 3.0, 7.0, 40.0, 250.0, 70_000.0]
    with write_transaction(fx.crm.engine) as conn:
        conn.execute(E.insert(), [row(fx, api, "success", d, now) for d in durations])
    with fx.crm.engine.connect() as conn:
        r = conn.execute(sa.select(H).where(H.c.function == api)).one()
    hist = [int(getattr(r, c)) for c in t.HISTOGRAM_COLUMNS]
    # bounds 1, 2, 5, 10, 20, 50, 100, 200, 500, …, 60,000, open
    assert hist[0] == 1 and hist[2] == 2 and hist[3] == 1 and hist[5] == 1 and hist[8] == 1
    assert hist[-1] == 1 and sum(hist) == len(durations)
    assert r.duration_max == 70_000.0 and r.statements_max == 10
    assert q.histogram_percentile(hist, 50, r.duration_max) == 10.0  # 7 ms lies in [5, 10)
    assert q.histogram_percentile(hist, 95, r.duration_max) == 70_000.0  # open bucket: the max
    assert q.histogram_percentile(hist, 1, r.duration_max) == 1.0
    assert q.histogram_percentile([0] * len(hist), 50, 0.0) is None
    assert q.histogram_percentile([0, 1] + [0] * (len(hist) - 2), 95, 1.5) == 1.5  # capped


def test_purge_drops_old_counter_hours(fx: Functions) -> None:
    api = "fn_" + secrets.token_hex(4)
    now = fx.crm.now_ms()
    with write_transaction(fx.crm.engine) as conn:
        conn.execute(
            E.insert(),
            [
                row(fx, api, "success", 1.0, now - 100 * DAY_MS),
                row(fx, api, "failure", 1.0, now - 60 * DAY_MS),
                row(fx, api, "success", 1.0, now),
            ],
        )
    assert len(counters(fx.crm.engine, api)) == 3
    fx.executions.purge()
    # Rows: the 100-day success and nothing else go (failures are kept 90 days); the counters
    # keep every hour within the longest retention.
    left = sorted(s for (_, s) in counters(fx.crm.engine, api))
    assert left == ["failure", "success"]
    assert (now // HOUR_MS, "success") in counters(fx.crm.engine, api)


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_counts_existing_executions(backend: str, tmp_path: Path) -> None:
    with crm_database(backend, tmp_path / "db") as url:
        engine = create_engine_for(database_url=url)
        try:
            with engine.connect() as conn:
                command.upgrade(alembic_config(conn), "0007_console_indexes")
                conn.commit()
            base = 1_767_225_600_000  # an hour boundary
            rows = []
            for n, (status, d) in enumerate(
                [("success", 3.0), ("success", 40.0), ("failure", 7.0), ("running", 0.0)]
            ):
                rows.append(row_of(n + 1, 1, "old", status, d, base + n * 60_000))
            rows.append(row_of(9, 1, "old", "skipped", 0.0, base + HOUR_MS))
            with engine.begin() as conn:
                conn.execute(E.insert(), rows)
            with engine.connect() as conn:
                command.upgrade(alembic_config(conn), "head")
                conn.commit()
            hour = base // HOUR_MS
            assert counters(engine, "old") == {
                (hour, "success"): (2, 43.0, 20),
                (hour, "failure"): (1, 7.0, 10),
                (hour + 1, "skipped"): (1, 0.0, 10),
            }
            with engine.begin() as conn:  # and the triggers count from then on
                conn.execute(
                    E.update().where(E.c.id == 4).values(status="success", duration_ms=1.0)
                )
            assert counters(engine, "old")[(hour, "success")] == (3, 44.0, 30)
        finally:
            engine.dispose()


def test_dashboard_reads_the_counters(fresh_crm: Any) -> None:  # noqa: F811
    fx = Functions(fresh_crm)
    now = fresh_crm.now_ms()
    start = now - now % HOUR_MS - 2 * HOUR_MS  # two hours ago, on the hour
    rows = [row(fx, "alpha", "success", 3.0, start + i) for i in range(18)]
    rows += [row(fx, "alpha", "failure", 300.0, start + HOUR_MS + i) for i in range(2)]
    rows += [row(fx, "beta", "skipped", 0.0, start) for _ in range(3)]
    rows += [row(fx, "beta", "success", 30.0, now - 30 * HOUR_MS)]  # the previous 24 h
    rows[18]["error"] = {"kind": "runtime", "message": "boom at line 2"}
    rows[19]["error"] = {"kind": "runtime", "message": "boom at line 3"}
    with write_transaction(fresh_crm.engine) as conn:
        conn.execute(E.insert(), rows)
    d = q.dashboard(fresh_crm, "24h", now)
    assert d.totals == {"success": 18, "failure": 2, "skipped": 3}
    assert d.previous == {"success": 1}
    i = d.buckets.index(start // 1000)
    assert d.series["success"][i] == 18 and d.series["skipped"][i] == 3
    assert d.series["failure"][i + 1] == 2
    alpha = next(p for p in d.per_function if p["name"] == "alpha")
    assert (alpha["runs"], alpha["failures"], alpha["p50"], alpha["p95"]) == (20, 2, 5.0, 300.0)
    assert d.p95_ms == 300.0
    assert d.failing == [
        {
            "name": "alpha",
            "failures": 2,
            "last_id": str(rows[19]["id"]),
            "last_error": "boom at line 3",
            "in_a_row": 2,
        }
    ]
    assert d.statements[0] == {"name": "alpha", "max": 10}
    assert d.busiest == start // 1000
