"""Server render time of the console's pages against a live ``floodway serve``, on SQLite and
PostgreSQL (issue 6 "Speed", console-ux.md §7).

For each database (SQLite, then a fresh PostgreSQL database on 127.0.0.1:5432 that the script
creates and drops; skipped with a note when unreachable) the script:

1. runs ``floodway clients create`` in a temporary data directory (the first start: it prints
   the administrator's e-mail and generated password, which the script reads like a person
   does) and starts ``floodway serve`` on 127.0.0.1 (any free port) with the rate limit off;
2. creates 100,000 Deals (``--quick``: 10,000) through ``POST /crm/v8/Deals`` in batches of 100
   over 4 clients (as ``records_api.py`` does), 20 Accounts, and through the admin API four
   published functions (automation, button, schedule, standalone), a workflow rule, a button and
   a schedule;
3. writes 50,000 executions (``--quick``: 5,000) straight into the executions table, in batches
   of 1,000 rows shaped like the executor's (``functions/executor.py``: trigger, arguments, info
   lines, output, error with its line, statements, duration), spread evenly over the last 24
   hours — the dashboard's default range, so every one of them is counted there. 90 % succeed,
   8 % fail with a runtime error, 2 % were skipped by the loop guard; ids are built from the
   start time as ``crm/ids.py`` builds them (on node 63, which the server never claims here), so
   they grow with time like real ones. Running them would only measure the executor, which
   ``functions.py`` does;
4. signs in through the login form (``GET /login`` for the CSRF field, ``POST /login``; the
   session cookie then rides on one keep-alive connection) and times each page: a few unmeasured
   warm-up requests, then N sequential GETs (``--requests``, 50 by default). Every answer must be
   200 and contain what the page is about. Reported per page: p50/p95 of the wall time over
   loopback (request sent to response read) and p95 of the server's own time from the
   ``Server-Timing: app;dur=…`` header the console adds (session, queries, rendering);
5. times the editor's check (``POST /editor/check`` with the session's CSRF token) on a 100-line
   and a 1,000-line function.

Must figures (issue 6): every page p95 < 100 ms (the wall time, which includes HTTP over
loopback); the editor's markers within 300 ms of typing stopping, i.e. the 150 ms idle wait plus
the check's p95 wall time ≤ 300 ms. console-ux.md §7 also asks htmx fragments for p95 < 50 ms
and the check for p95 ≤ 60 ms on 1,000 lines; those are shown as goals. The script exits 1 when a
must figure is missed.

Run: ``python benchmarks/ui.py`` (100,000 Deals, 50,000 executions), ``--quick`` (10,000 and
5,000, 20 requests per page) for a fast check. Other CPU-heavy work on the machine skews the
figures: the 1-minute load average is printed with each table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from live_server import (
    CLI,
    REQUEST_TIMEOUT_S,
    START_TIMEOUT_S,
    BenchmarkError,
    access_token,
    http_client,
    percentile,
    postgres_database,
    running_server,
    server_env,
    verdict,
)
from records_api import bulk_create, post_records

WARMUP_REQUESTS = 3
EXEC_BATCH = 1_000
EXEC_NODE = 63  # the id node bits of the written executions (crm/ids.py)
ACCOUNTS = 20
DEBOUNCE_MS = 150.0

MUST_PAGE_P95_MS = 100.0
MUST_MARKERS_MS = 300.0
GOAL_FRAGMENT_P95_MS = 50.0
GOAL_CHECK_P95_MS = 60.0

SOURCES = {
    "rollup": (
        "void automation.rollup(Int dealId, Decimal amount)\n{\n"
        '    deal = zoho.crm.getRecordById("Deals", dealId);\n'
        '    info "rolling up " + dealId;\n'
        "    total = 0;\n"
        "    for each n in {1, 2, 3}\n    {\n        total = total + n * amount;\n    }\n"
        '    info "total " + total;\n}\n'
    ),
    "create_project": (
        'string button.create_project(Int dealId)\n{\n    info "project for " + dealId;\n'
        '    return "Project created";\n}\n'
    ),
    "nightly": 'void schedule.nightly()\n{\n    info "night";\n}\n',
    "quote_total": (
        "map standalone.quote_total(Decimal amount, Int items)\n{\n"
        "    total = amount * items;\n"
        '    if (total > 100000)\n    {\n        info "large quote";\n    }\n'
        '    return {"total": total, "items": items};\n}\n'
    ),
}
TRIGGERS = {
    "rollup": "workflow",
    "create_project": "button",
    "nightly": "schedule",
    "quote_total": "rest",
}


# ---- results --------------------------------------------------------------------------------


@dataclass
class Results:
    database: str
    deals: int
    executions: int
    requests: int
    load: float
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def add(self, what: str, wall: list[float], app: list[float], must: str) -> None:
        self.rows.append(
            (what, ms(percentile(wall, 50)), ms(percentile(wall, 95)), app_ms(app), must)
        )

    def check(
        self, what: str, wall: list[float], app: list[float], limit: float, requirement: str
    ) -> None:
        p95 = percentile(wall, 95) * 1000
        ok = p95 < limit if limit == MUST_PAGE_P95_MS else p95 <= limit
        mark = "met" if ok else "**MISSED**"
        self.add(what, wall, app, f"{requirement}: {mark}")
        if not ok:
            self.missed.append(f"{self.database}: {what} p95 = {p95:.1f} ms (must {requirement})")

    def table(self) -> str:
        lines = [
            f"### {self.database} ({self.deals:,} Deals, {self.executions:,} executions in 24 h; "
            f"{self.requests} requests per page; load {self.load:.2f})",
            "",
            "| page | p50 | p95 | server p95 | must |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in self.rows]
        return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def app_ms(samples: list[float]) -> str:
    return ms(percentile(samples, 95)) if samples else "–"


# ---- set-up ---------------------------------------------------------------------------------


def first_start(data: Path, db_args: list[str]) -> tuple[dict[str, str], str, str]:
    """``floodway clients create`` on an empty data directory: the self client, and the admin's
    e-mail and password it prints once."""
    done = subprocess.run(
        [*CLI, "clients", "create", "benchmark", "--data", str(data), "--json", *db_args],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        env=server_env(),
        check=False,
    )
    if done.returncode != 0:
        raise BenchmarkError(f"floodway clients create failed:\n{done.stderr}")
    found = re.search(r"admin (\S+) password: (\S+)", done.stderr)
    if found is None:
        raise BenchmarkError(f"no admin password printed:\n{done.stderr}")
    client: dict[str, str] = json.loads(done.stdout)
    return client, found.group(1), found.group(2)


def admin_api(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path, json=body)
    if response.status_code != 201:
        raise BenchmarkError(f"POST {path}: {response.status_code} {response.text[:500]}")
    made: dict[str, Any] = response.json()
    return made


def automation_setup(http: httpx.Client, deal_id: str) -> None:
    """The functions, a workflow rule, a button and a schedule the pages list."""
    for api_name, source in SOURCES.items():
        admin_api(
            http,
            "/api/functions",
            {"source": source, "publish": True, "rest_enabled": api_name == "quote_total"},
        )
    admin_api(
        http,
        "/api/workflows",
        {
            "name": "Roll up revenue",
            "module": "Deals",
            "on": "create_or_edit",
            "criteria": "(Stage:equals:Closed Won)",
            "actions": [
                {
                    "function": "rollup",
                    "arguments": {"dealId": "${Deals.id}", "amount": "${Deals.Amount}"},
                }
            ],
        },
    )
    admin_api(
        http,
        "/api/buttons",
        {
            "name": "Create project",
            "module": "Deals",
            "function": "create_project",
            "arguments": {"dealId": "${Deals.id}"},
        },
    )
    admin_api(
        http, "/api/schedules", {"name": "Nightly", "function": "nightly", "cron": "0 2 * * *"}
    )
    got = http.get(f"/crm/v8/Deals/{deal_id}")
    if got.status_code != 200:
        raise BenchmarkError(f"GET Deals/{deal_id}: {got.status_code}")


def write_executions(
    url: str, count: int, deal_ids: list[str], now_ms: int, rng: random.Random
) -> list[int]:
    """``count`` executions over the last 24 h (see the module docstring); their ids."""
    import sqlalchemy as sa

    from floodway.crm.ids import NODE_BITS, TIME_SHIFT
    from floodway.functions import schema as fs

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            org_id = conn.execute(sa.text("SELECT id FROM orgs")).scalar_one()
            user_id = conn.execute(sa.text("SELECT min(id) FROM users")).scalar_one()
            functions = {
                r.api_name: (r.id, r.live_version)
                for r in conn.execute(
                    sa.select(
                        fs.functions.c.api_name, fs.functions.c.id, fs.functions.c.live_version
                    )
                )
            }
            rule_id = conn.execute(
                sa.text("SELECT id FROM automation_items WHERE kind = 'workflow'")
            ).scalar()
        names = list(SOURCES)
        span_ms = 24 * 3600 * 1000 - 60_000
        step = span_ms / count
        start = now_ms - span_ms
        ids: list[int] = []
        seq: dict[int, int] = {}
        batch: list[dict[str, Any]] = []
        for n in range(count):
            started = int(start + n * step)
            s = seq.get(started, 0)
            seq[started] = s + 1
            eid = (started << TIME_SHIFT) | (s << NODE_BITS) | EXEC_NODE
            ids.append(eid)
            name = names[n % len(names)]
            batch.append(
                execution_row(
                    eid, org_id, user_id, name, functions, rule_id, deal_ids, started, rng
                )
            )
            if len(batch) == EXEC_BATCH:
                with engine.begin() as conn:
                    conn.execute(fs.executions.insert(), batch)
                batch = []
        if batch:
            with engine.begin() as conn:
                conn.execute(fs.executions.insert(), batch)
    finally:
        engine.dispose()
    return ids


def analyze(url: str) -> None:
    """Planner statistics for the rows just loaded, as a database in use has them (autovacuum
    on PostgreSQL; SQLite plans without them). Right after a bulk load PostgreSQL has none yet
    and plans, for example, the executions log as a sort of the whole day instead of a walk of
    the newest ids."""
    import sqlalchemy as sa

    if not url.startswith("postgresql"):
        return
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


def execution_row(
    eid: int,
    org_id: int,
    user_id: int,
    name: str,
    functions: dict[str, tuple[int, int]],
    rule_id: Any,
    deal_ids: list[str],
    started: int,
    rng: random.Random,
) -> dict[str, Any]:
    deal = rng.choice(deal_ids)
    kind = TRIGGERS[name]
    trigger: dict[str, Any] = {"type": kind}
    arguments: dict[str, Any] = {}
    if kind == "workflow":
        trigger |= {"rule_id": str(rule_id), "rule": "Roll up revenue", "module": "Deals"}
        trigger["record_id"] = deal
        arguments = {"dealId": int(deal), "amount": "1200.50"}
    elif kind == "button":
        trigger |= {"module": "Deals", "record_id": deal, "button": "Create project"}
        arguments = {"dealId": int(deal)}
    elif kind == "rest":
        trigger["auth_type"] = "apikey"
        arguments = {"amount": "99.5", "items": rng.randrange(1, 20)}
    roll = rng.random()
    status = "success" if roll < 0.90 else "failure" if roll < 0.98 else "skipped"
    duration = round(rng.lognormvariate(1.5, 0.8), 3) if status != "skipped" else 0.0
    statements = rng.randrange(5, 5_000) if status != "skipped" else 0
    error = None
    info = [f"rolling up {deal}", f"total {rng.randrange(10_000)}"]
    if status == "failure":
        error = {
            "kind": "runtime",
            "code": "RUNTIME",
            "message": f"Connection 'pm_service' returned 401 at line 3 (deal {deal})",
            "line": 3,
            "column": 5,
        }
    elif status == "skipped":
        error = {"kind": "skipped", "message": "loop guard: rule 'Roll up revenue' already ran"}
        info = []
    output = {"total": 1200.5, "items": 3} if name == "quote_total" else None
    fid, version = functions[name]
    return {
        "id": eid,
        "org_id": org_id,
        "function_id": fid,
        "function": name,
        "version": version,
        "trigger_type": kind,
        "trigger": trigger,
        "status": status,
        "caller": "system" if kind in ("workflow", "schedule") else "user",
        "run_as": user_id,
        "arguments": arguments,
        "output": output,
        "output_text": json.dumps(output) if output is not None else None,
        "output_truncated": False,
        "info": info,
        "error": error,
        "notes": [],
        "statements": statements,
        "http_calls": [],
        "emails": [],
        "records": [],
        "client_actions": [],
        "started_time": started,
        "finished_time": started + int(duration),
        "duration_ms": duration,
        "rerun_of": None,
        "chain_id": eid if kind == "workflow" else None,
        "chain_depth": 0,
        "node": "bench",
    }


# ---- the console ----------------------------------------------------------------------------


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if found is None:
        raise BenchmarkError("the page has no CSRF field")
    return found.group(1)


def sign_in(url: str, email: str, password: str) -> tuple[httpx.Client, str]:
    """A keep-alive client holding a console session, and the session's CSRF token."""
    http = httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S, trust_env=False)
    form = http.get("/login")
    answer = http.post(
        "/login",
        data={"csrf_token": csrf_of(form.text), "email": email, "password": password},
    )
    if answer.status_code != 303:
        raise BenchmarkError(f"sign-in failed: {answer.status_code} {answer.text[:300]}")
    home = http.get("/")
    if home.status_code != 200:
        raise BenchmarkError(f"home after sign-in: {home.status_code}")
    return http, csrf_of(home.text)


def server_ms(response: httpx.Response) -> float | None:
    found = re.search(r"app;dur=([\d.]+)", response.headers.get("server-timing", ""))
    return float(found.group(1)) / 1000 if found else None


Request = Callable[[int], httpx.Response]


def timed(requests: int, send: Request, expect: str) -> tuple[list[float], list[float]]:
    """Warm-up, then `requests` sequential requests: (wall times, server times). Each answer
    must be 200 and contain `expect`."""
    wall: list[float] = []
    app: list[float] = []
    for n in range(-WARMUP_REQUESTS, requests):
        t0 = time.perf_counter()
        response = send(n)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200 or expect not in response.text:
            raise BenchmarkError(
                f"{response.request.method} {response.request.url}: {response.status_code}, "
                f"{expect!r} {'missing' if response.status_code == 200 else ''}\n"
                f"{response.text[:400]}"
            )
        if n >= 0:
            wall.append(elapsed)
            own = server_ms(response)
            if own is not None:
                app.append(own)
    return wall, app


def link(html: str, marker: str) -> str:
    """The href of the first link whose tag contains `marker` (a pager link)."""
    for tag in re.findall(r"<a [^>]*>", html):
        if marker in tag:
            found = re.search(r'href="([^"]+)"', tag)
            if found:
                return found.group(1).replace("&amp;", "&")
    raise BenchmarkError(f"no link with {marker!r} on the page")


def check_source(lines: int) -> str:
    """A function of about `lines` lines that compiles: blocks of assignments, conditions,
    info lines and list calls."""
    body: list[str] = []
    i = 0
    while len(body) < lines - 7:
        body += [
            f"    total = total + {i};",
            f"    if (total > {i * 3})",
            "    {",
            f'        info "step {i}: " + total;',
            "    }",
            f'    names.add("n{i}");',
        ]
        i += 1
    return (
        "map standalone.bench_check(Int n)\n{\n    total = 0;\n    names = List();\n"
        + "\n".join(body)
        + '\n    return {"total": total, "names": names};\n}\n'
    )


def measure_pages(
    results: Results, http: httpx.Client, csrf: str, deal_ids: list[str], exec_ids: list[int]
) -> None:
    n = results.requests
    rng = random.Random(5)
    htmx = {"HX-Request": "true"}

    def page(what: str, path: str, expect: str, fragment: bool = False) -> None:
        print(f"  {what}", flush=True)
        wall, app = timed(n, lambda _: http.get(path, headers=htmx if fragment else None), expect)
        results.check(what, wall, app, MUST_PAGE_P95_MS, "p95 < 100 ms")

    def pages(what: str, path_of: Callable[[], str], expect: str, fragment: bool = False) -> None:
        print(f"  {what}", flush=True)
        headers = htmx if fragment else None
        wall, app = timed(n, lambda _: http.get(path_of(), headers=headers), expect)
        results.check(what, wall, app, MUST_PAGE_P95_MS, "p95 < 100 ms")

    page("Home `/`", "/", "Home")
    first = http.get("/m/Deals").text
    page("Deals list, first page `/m/Deals`", "/m/Deals", "Benchmark deal")
    url = link(first, 'data-shortcut="]"')
    page("Deals list, page 2 (its Next link)", url, "Benchmark deal")
    for _ in range(8):
        url = link(http.get(url).text, 'data-shortcut="]"')
    page("Deals list, page 10 (Next link 9 times)", url, "Benchmark deal")
    last_page = (results.deals + 49) // 50
    deep = url.replace("page=10", f"page={last_page}")
    page(f"Deals list, last page ({last_page:,}, same link form)", deep, "Benchmark deal")
    page("Deals list sorted by Amount ▼", "/m/Deals?sort=Amount&order=desc", "Benchmark deal")
    page(
        "Deals list sorted by Amount ▼, page 10",
        "/m/Deals?sort=Amount&order=desc&page=10",
        "Benchmark deal",
    )
    page("Deals list sorted by Deal Name ▲", "/m/Deals?sort=Deal_Name&order=asc", "Benchmark deal")
    page(
        "Deals list, criteria `(Stage:equals:Closed Won)`",
        "/m/Deals?criteria=(Stage:equals:Closed%20Won)",
        "Benchmark deal",
    )
    page(
        "Deals list, criteria `(Amount:greater_than:90000)` sorted by Amount",
        "/m/Deals?criteria=(Amount:greater_than:90000)&sort=Amount",
        "Benchmark deal",
    )
    page(
        "htmx: Deals search as you type `?q=Benchmark deal 4242`",
        "/m/Deals?q=Benchmark%20deal%204242",
        "Benchmark deal 4242",
        fragment=True,
    )
    sample = rng.sample(deal_ids, min(len(deal_ids), 200))
    pages("Deal detail `/m/Deals/{id}`", lambda: f"/m/Deals/{rng.choice(sample)}", "Stage")
    pages(
        "htmx: Deal automation panel",
        lambda: f"/m/Deals/{rng.choice(sample)}/automation-panel",
        "",
        fragment=True,
    )
    pages("Deal edit form", lambda: f"/m/Deals/{rng.choice(sample)}/edit", "csrf_token")
    page("Functions list `/functions`", "/functions", "quote_total")
    page("Function editor `/functions/rollup`", "/functions/rollup", "automation.rollup")
    page("Function history `/functions/rollup/versions`", "/functions/rollup/versions", "rollup")
    page("Executions log `/executions`", "/executions", "rollup")
    log = http.get("/executions").text
    page(
        "Executions log, older page (its Load older link)", link(log, 'data-shortcut="]"'), "rollup"
    )
    page(
        "Executions log, function + status",
        "/executions?function=rollup&status=failure",
        "rollup",
    )
    page("Executions log, status failure, 7 d", "/executions?status=failure&range=7d", "failure")
    page(
        "Executions log, Deal record filter",
        f"/executions?record={sample[0]}&range=30d",
        "Executions",
    )
    pages(
        "Execution detail `/executions/{id}`",
        lambda: f"/executions/{rng.choice(exec_ids)}",
        "Arguments",
    )
    page("Automation rules `/automation/rules`", "/automation/rules", "Roll up revenue")
    page("Schedules `/automation/schedules`", "/automation/schedules", "Nightly")
    page("Dashboard `/dashboard` (24 h)", "/dashboard", "Failing functions")
    page("Dashboard, 7 d", "/dashboard?range=7d", "Failing functions")
    page("Dashboard, 30 d", "/dashboard?range=30d", "Failing functions")
    page(
        "Palette, records by name `/palette?q=benchmark deal 4242`",
        "/palette?q=benchmark%20deal%204242",
        "Benchmark deal 4242",
    )
    page("Palette, a word matching nothing", "/palette?q=zzzz%20nothing", '"results"')

    for lines in (100, 1_000):
        source = check_source(lines)
        what = f"editor markers: {DEBOUNCE_MS:.0f} ms idle + `POST /editor/check`, {lines:,} lines"
        print(f"  {what}", flush=True)

        def send(_: int, source: str = source) -> httpx.Response:
            return http.post(
                "/editor/check",
                data={"source": source, "api_name": "bench_check"},
                headers={"X-CSRF-Token": csrf},
            )

        wall, app = timed(n, send, '"diagnostics":[]')
        results.check(
            what,
            [DEBOUNCE_MS / 1000 + w for w in wall],
            app,
            MUST_MARKERS_MS,
            "≤ 300 ms",
        )


def run_database(
    name: str, database_url: str | None, deals: int, executions: int, requests: int
) -> Results:
    db_args = ["--database-url", database_url] if database_url else []
    with tempfile.TemporaryDirectory(prefix="floodway-bench-") as tmp:
        data = Path(tmp) / "data"
        client, email, password = first_start(data, db_args)
        with running_server(data, db_args) as server:
            token = access_token(server.url, client)
            print(f"[{name}] serving on {server.url}; creating {deals:,} Deals", flush=True)
            t0 = time.perf_counter()
            deal_ids, _ = bulk_create(server.url, token, deals, 4)
            with http_client(server.url, token) as http:
                post_records(
                    http, "Accounts", [{"Account_Name": f"Account {a}"} for a in range(ACCOUNTS)]
                )
                automation_setup(http, deal_ids[0])
            print(f"[{name}] {deals:,} Deals in {time.perf_counter() - t0:.0f} s", flush=True)
            t0 = time.perf_counter()
            url = database_url or f"sqlite:///{data / 'floodway.db'}"
            rng = random.Random(11)
            exec_ids = write_executions(url, executions, deal_ids, int(time.time() * 1000), rng)
            print(f"[{name}] {executions:,} executions in {time.perf_counter() - t0:.0f} s")
            analyze(url)
            http, csrf = sign_in(server.url, email, password)
            load = os.getloadavg()[0]
            print(f"[{name}] signed in; timing pages (load {load:.2f})", flush=True)
            results = Results(name, deals, executions, requests, load)
            try:
                measure_pages(results, http, csrf, deal_ids, exec_ids)
            finally:
                http.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000, help="Deals to create")
    parser.add_argument("--executions", type=int, default=50_000, help="executions to write")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument(
        "--quick", action="store_true", help="10,000 Deals, 5,000 executions, 20 requests"
    )
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true", help="skip SQLite")
    args = parser.parse_args(argv)
    deals, executions, requests = args.records, args.executions, args.requests
    if args.quick:
        deals, executions, requests = 10_000, 5_000, 20
    if deals < 1_000 or executions < 100 or requests < 2:
        parser.error("--records ≥ 1,000, --executions ≥ 100 and --requests ≥ 2")

    all_results = []
    if not args.postgres_only:
        all_results.append(run_database("SQLite", None, deals, executions, requests))
        print("\n" + all_results[-1].table() + "\n", flush=True)
    if not args.sqlite_only:
        with postgres_database() as url:
            if url is not None:
                all_results.append(run_database("PostgreSQL", url, deals, executions, requests))
                print("\n" + all_results[-1].table() + "\n", flush=True)

    return verdict(all_results)


if __name__ == "__main__":
    sys.exit(main())
