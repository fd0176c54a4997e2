"""Workflow automation under load: how fast triggered actions drain, and how late they start.

Issue 5 "Speed". For each database (SQLite with the embedded job engine inside ``floodway
serve``; then a fresh PostgreSQL database on 127.0.0.1:5432 with ``serve --no-worker`` and two
``floodway worker`` processes running procrastinate; skipped with a note when unreachable):

1. a project with 10 active workflow rules on Deals is deployed with ``floodway deploy``:
   3 rules with a function action (the function reads the deal back with
   ``zoho.crm.getRecordById`` and logs a field), 2 rules with a field update (on a Stage
   change), and 5 rules that are evaluated on every write but do not match (other triggers,
   criteria that fail);
2. ``--deals`` Deals (default 10,000) are created through the REST API (no rule matches a
   create);
3. **drain**: every deal is updated once through the REST API (bulk PUT of 100, 4 clients);
   each update triggers 3 function actions and 2 field updates. Measured: from the first
   update until every job has finished (no job left to do in the database), function actions
   per second and all actions per second;
4. **steady rate**: single-record updates at a steady rate offering 50 function actions/s
   (~16.7 updates/s) for ``--seconds`` (default 30 s); measured: the lag from the record
   change (the ``record_events`` row written in the update's transaction, just before commit)
   to the start of each function action (``executions.started_time``), p50 and p99.

Must (issue 5): >= 100 function actions/s drained; p99 lag <= 2 s at 50 actions/s.
Goal: 500/s and p99 200 ms.

Run: ``python benchmarks/automation.py`` (``--quick``: 2,000 deals, 15 s steady).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa
from live_server import (
    CLI,
    START_TIMEOUT_S,
    BenchmarkError,
    Results,
    access_token,
    cli_json,
    http_client,
    percentile,
    postgres_database,
    running_server,
    server_env,
    verdict,
)

BATCH = 100
CLIENTS = 4
WORKERS_PG = 2
STEADY_ACTIONS_PER_S = 50.0
FUNCTION_RULES = 3
MUST_DRAIN_PER_S = 100.0
MUST_P99_LAG_S = 2.0
DRAIN_TIMEOUT_S = 1800.0
STAGES = ("Qualification", "Needs Analysis", "Value Proposition", "Proposal/Price Quote")

FUNCTION = """void automation.bench_touch_{n}(String dealId, String stage)
{{
    deal = zoho.crm.getRecordById("Deals", dealId.toLong());
    info "rule {n}: " + deal.get("Deal_Name") + " is at " + stage;
}}
"""

MANIFEST = """
{functions}

[[workflow]]
name = "Bench field update A"
module = "Deals"
on = "field_update"
fields = ["Stage"]
[[workflow.actions]]
field_update = {{ Next_Step = "Stage now ${{Deals.Stage}}" }}

[[workflow]]
name = "Bench field update B"
module = "Deals"
on = "field_update"
fields = ["Stage"]
criteria = "(Amount:greater_than:0)"
[[workflow.actions]]
field_update = {{ Lead_Source = "Web" }}

[[workflow]]
name = "Bench never: create"
module = "Deals"
on = "create"
criteria = "(Stage:equals:Closed Lost)"
[[workflow.actions]]
field_update = {{ Next_Step = "never" }}

[[workflow]]
name = "Bench never: lost"
module = "Deals"
on = "edit"
criteria = "(Stage:equals:Closed Lost)"
[[workflow.actions]]
field_update = {{ Next_Step = "never" }}

[[workflow]]
name = "Bench never: probability"
module = "Deals"
on = "field_update"
fields = ["Probability"]
[[workflow.actions]]
field_update = {{ Next_Step = "never" }}

[[workflow]]
name = "Bench never: delete"
module = "Deals"
on = "delete"
[[workflow.actions]]
webhook = {{ url = "http://127.0.0.1:9/never", method = "POST" }}

[[workflow]]
name = "Bench never: big deals"
module = "Deals"
on = "create_or_edit"
criteria = "(Amount:greater_than:1000000000)"
[[workflow.actions]]
field_update = {{ Next_Step = "never" }}
"""

FUNCTION_RULE = """[[workflow]]
name = "Bench function {n}"
module = "Deals"
on = "edit"
criteria = "(Amount:greater_than:0)"
[[workflow.actions]]
function = "bench_touch_{n}"
arguments = {{ dealId = "${{Deals.id}}", stage = "${{Deals.Stage}}" }}
"""


def write_project(root: Path) -> None:
    (root / "functions").mkdir(parents=True)
    for n in range(1, FUNCTION_RULES + 1):
        (root / "functions" / f"bench_touch_{n}.dg").write_text(FUNCTION.format(n=n))
    rules = "\n".join(FUNCTION_RULE.format(n=n) for n in range(1, FUNCTION_RULES + 1))
    (root / "floodway.toml").write_text(MANIFEST.format(functions=rules))


def run_cli(*args: str) -> None:
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=server_env(), timeout=START_TIMEOUT_S
    )
    if done.returncode != 0:
        raise BenchmarkError(f"floodway {args[0]} failed:\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def workers(data: Path, db_args: list[str], count: int) -> Iterator[None]:
    """``count`` ``floodway worker`` processes, each started before the benchmark goes on."""
    procs: list[subprocess.Popen[str]] = []
    try:
        for _ in range(count):
            proc = subprocess.Popen(
                [*CLI, "worker", "--data", str(data), "--concurrency", "4", *db_args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=server_env(),
            )
            procs.append(proc)
            ready = threading.Event()
            log: collections.deque[str] = collections.deque(maxlen=50)

            def pump(
                p: subprocess.Popen[str] = proc,
                ev: threading.Event = ready,
                lines: collections.deque[str] = log,
            ) -> None:
                assert p.stdout is not None
                for line in p.stdout:
                    lines.append(line.rstrip())
                    if "worker running" in line:
                        ev.set()

            threading.Thread(target=pump, daemon=True).start()
            if not ready.wait(START_TIMEOUT_S):
                raise BenchmarkError("floodway worker did not start:\n" + "\n".join(log))
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def create_deals(http: httpx.Client, count: int) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, BATCH):
        rows = [
            {"Deal_Name": f"Bench deal {i}", "Stage": STAGES[0], "Amount": 1000 + i}
            for i in range(start, min(count, start + BATCH))
        ]
        r = http.post("/crm/v8/Deals", json={"data": rows})
        if r.status_code != 201:
            raise BenchmarkError(f"create failed: {r.status_code} {r.text[:300]}")
        ids += [d["details"]["id"] for d in r.json()["data"]]
    return ids


def update_batch(http: httpx.Client, ids: list[str], stage: str) -> None:
    r = http.put("/crm/v8/Deals", json={"data": [{"id": i, "Stage": stage} for i in ids]})
    if r.status_code not in (200, 202):
        raise BenchmarkError(f"update failed: {r.status_code} {r.text[:300]}")
    bad = [d for d in r.json()["data"] if d.get("status") != "success"]
    if bad:
        raise BenchmarkError(f"update refused: {bad[:2]}")


def jobs_left(engine: sa.Engine) -> int:
    """Jobs not yet finished, read from the job tables of the backend in use."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sql = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        else:
            sql = "SELECT count(*) FROM jobs WHERE status IN ('todo', 'doing')"
        return int(conn.execute(sa.text(sql)).scalar_one())


def workflow_runs(engine: sa.Engine, since_ms: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM executions WHERE trigger_type = 'workflow' "
                    "AND started_time >= :t"
                ),
                {"t": since_ms},
            ).scalar_one()
        )


def wait_drained(engine: sa.Engine, since_ms: int, expected: int) -> float:
    """Seconds until ``expected`` workflow runs exist and no job is left; the caller's clock."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        if workflow_runs(engine, since_ms) >= expected and jobs_left(engine) == 0:
            return time.time()
        time.sleep(0.05)
    raise BenchmarkError(f"actions did not drain within {DRAIN_TIMEOUT_S:.0f} s")


def lags(engine: sa.Engine, since_ms: int) -> list[float]:
    """Seconds from each API update's record event to the start of the actions it caused."""
    with engine.connect() as conn:
        changed = {
            str(rid): t
            for rid, t in conn.execute(
                sa.text(
                    "SELECT record_id, min(created_time) FROM record_events "
                    "WHERE channel = 'api' AND action = 'update' AND created_time >= :t "
                    "GROUP BY record_id"
                ),
                {"t": since_ms},
            )
        }
        runs = conn.execute(
            sa.text(
                "SELECT started_time, trigger FROM executions "
                "WHERE trigger_type = 'workflow' AND started_time >= :t"
            ),
            {"t": since_ms},
        ).all()
    out = []
    for started, trigger in runs:
        data = json.loads(trigger) if isinstance(trigger, str) else trigger
        t = changed.get(str(data.get("record_id")))
        if t is not None:
            out.append((started - t) / 1000)
    return out


def steady(http: httpx.Client, ids: list[str], seconds: float) -> int:
    """Single-record updates offering STEADY_ACTIONS_PER_S function actions; returns updates."""
    per_s = STEADY_ACTIONS_PER_S / FUNCTION_RULES
    interval = 1.0 / per_s
    start = time.monotonic()
    sent = 0
    pool = ThreadPoolExecutor(max_workers=4)
    futures = []
    while time.monotonic() - start < seconds and sent < len(ids):
        due = start + sent * interval
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        rid = ids[sent]
        futures.append(
            pool.submit(
                lambda r=rid: http.put(
                    f"/crm/v8/Deals/{r}", json={"data": [{"Stage": STAGES[2]}]}
                ).raise_for_status()
            )
        )
        sent += 1
    for f in futures:
        f.result()
    pool.shutdown()
    return sent


def run_database(name: str, database_url: str | None, deals: int, seconds: float) -> Results:
    results = Results(name)
    db_args = ["--database-url", database_url] if database_url else []
    with tempfile.TemporaryDirectory(prefix="floodway-bench-") as tmp:
        data = Path(tmp) / "data"
        project = Path(tmp) / "project"
        write_project(project)
        client = cli_json("clients", "create", "benchmark", "--data", str(data), "--json", *db_args)
        run_cli("deploy", str(project), "--data", str(data), *db_args)
        engine = sa.create_engine(database_url or f"sqlite:///{data / 'floodway.db'}")
        serve_args = [*db_args, "--no-worker"] if database_url else db_args
        n_workers = WORKERS_PG if database_url else 0
        with running_server(data, serve_args) as server, workers(data, db_args, n_workers):
            token = access_token(server.url, client)
            with http_client(server.url, token) as http:
                print(f"[{name}] creating {deals:,} Deals", flush=True)
                ids = create_deals(http, deals)
                steady_ids = ids[: int(seconds * STEADY_ACTIONS_PER_S / FUNCTION_RULES) + 10]
                drain_ids = ids[len(steady_ids) :]

                print(f"[{name}] drain: updating {len(drain_ids):,} Deals", flush=True)
                t0 = time.time()
                since = int(t0 * 1000) - 5
                chunks = [drain_ids[i : i + BATCH] for i in range(0, len(drain_ids), BATCH)]
                with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
                    list(pool.map(lambda c: update_batch(http, c, STAGES[1]), chunks))
                written = time.time() - t0
                expected = len(drain_ids) * FUNCTION_RULES
                done = wait_drained(engine, since, expected)
                elapsed = done - t0
                per_s = expected / elapsed
                all_per_s = len(drain_ids) * (FUNCTION_RULES + 2) / elapsed
                results.add(
                    f"updates written ({len(drain_ids):,} in {written:.1f} s)",
                    f"{len(drain_ids) / written:,.0f} updates/s",
                )
                results.check(
                    f"function actions drained ({expected:,} in {elapsed:.1f} s)",
                    f"{per_s:,.0f} /s",
                    per_s >= MUST_DRAIN_PER_S,
                    f">= {MUST_DRAIN_PER_S:.0f}/s",
                )
                results.add(
                    "all actions drained (functions + field updates)", f"{all_per_s:,.0f} /s"
                )

                print(
                    f"[{name}] steady: {STEADY_ACTIONS_PER_S:.0f} actions/s for {seconds:.0f} s",
                    flush=True,
                )
                since = int(time.time() * 1000) - 5
                sent = steady(http, steady_ids, seconds)
                wait_drained(engine, since, sent * FUNCTION_RULES)
                samples = lags(engine, since)
                if not samples:
                    raise BenchmarkError("no lag samples were recorded")
                p50, p99 = percentile(samples, 50), percentile(samples, 99)
                results.add(f"lag samples ({sent} updates)", f"{len(samples):,}")
                results.add("lag change -> action start p50", f"{p50 * 1000:,.0f} ms")
                results.check(
                    "lag change -> action start p99",
                    f"{p99 * 1000:,.0f} ms",
                    p99 <= MUST_P99_LAG_S,
                    f"<= {MUST_P99_LAG_S * 1000:,.0f} ms",
                )
        engine.dispose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="steady-rate phase length")
    parser.add_argument("--quick", action="store_true", help="2,000 deals, 15 s steady")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgres-only", action="store_true")
    args = parser.parse_args(argv)
    deals, seconds = (2_000, 15.0) if args.quick else (args.deals, args.seconds)
    steady_deals = int(seconds * STEADY_ACTIONS_PER_S / FUNCTION_RULES) + 10
    total = deals + steady_deals

    all_results = []
    if not args.postgres_only:
        all_results.append(run_database("SQLite (embedded jobs in serve)", None, total, seconds))
        print("\n" + all_results[-1].table() + "\n", flush=True)
    if not args.sqlite_only:
        with postgres_database() as url:
            if url is not None:
                label = f"PostgreSQL (procrastinate, {WORKERS_PG} worker processes)"
                all_results.append(run_database(label, url, total, seconds))
                print("\n" + all_results[-1].table() + "\n", flush=True)
    return verdict(all_results)


if __name__ == "__main__":
    raise SystemExit(main())
