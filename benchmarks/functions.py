"""REST functions against a live ``floodway serve``, and the executor's per-call overhead.

Issue 4 "Speed". For each database (SQLite, then a fresh PostgreSQL database on
127.0.0.1:5432 that the script creates and drops; skipped with a note when unreachable):

1. ``floodway clients create`` + ``floodway serve`` on 127.0.0.1 (any free port) in a temporary
   data directory, with the rate limit switched off;
2. a REST-enabled function returning its argument,
   ``string standalone.echo(String value) { return value; }``, created and published through
   the admin API, called with the org API key from ``floodway apikey --json``;
3. a client with 16 concurrent keep-alive connections over loopback calls
   ``GET /crm/v8/functions/echo/actions/execute?auth_type=apikey&zapikey=…&value=<n>`` for 20 s
   (after 2 s of warm-up) and checks every answer (HTTP 200, the envelope's output is ``n``);
   each call writes its execution record, which the script counts in the database afterwards;
   it reports requests/s and p50/p99 latency.

The load generator is a small asyncio HTTP/1.1 client (one process, raw sockets): on a 2-core
machine a heavier client would take the CPU the server needs and measure itself.

Then, in-process: the executor's per-call cost for a trivial function with its compiled code
cached, without the execution-record write: ``fx.executor.run(live, {"value": "x"},
record=False)`` (argument binding, run-as user, limits, host, the engine run, output
conversion), the median of 7 batches of 20,000 calls; shown beside it the engine run alone and
the same call with the execution record written.

Run: ``python benchmarks/functions.py`` (16 connections, 20 s), ``--quick`` (5 s) for a fast
check; ``--seconds``, ``--connections`` to vary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from live_server import (
    HOST,
    REQUEST_TIMEOUT_S,
    BenchmarkError,
    Results,
    cli_json,
    percentile,
    postgres_database,
    running_server,
    verdict,
)

CONNECTIONS = 16
SECONDS = 20.0
WARMUP_SECONDS = 2.0

MUST_REQ_PER_S = 300.0
MUST_P99_MS = 100.0
MUST_OVERHEAD_US = 200.0
GOAL_REQ_PER_S = 1_000.0
GOAL_OVERHEAD_US = 50.0

ECHO = """string standalone.echo(String value)
{
    return value;
}"""
TRIVIAL = ECHO


def publish_echo(url: str, client: dict[str, str]) -> None:
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as http:
        grant = {"grant_type": "refresh_token", **client}
        token = http.post("/oauth/v2/token", data=grant).json()["access_token"]
        made = http.post(
            "/api/functions",
            headers={"Authorization": f"Zoho-oauthtoken {token}"},
            json={"source": ECHO, "publish": True, "rest_enabled": True},
        )
        if made.status_code != 201:
            raise BenchmarkError(f"creating the function failed: {made.status_code} {made.text}")


def count_rest_executions(data: Path, database_url: str | None) -> int:
    import sqlalchemy as sa

    url = database_url or f"sqlite:///{data / 'floodway.db'}"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM executions WHERE trigger_type = 'rest' "
                        "AND status = 'success'"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


# ---- the load generator -----------------------------------------------------------------------


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    completed: int = 0
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0


async def _connection(
    port: int,
    path_for: Any,
    stop_warmup: float,
    stop_at: float,
    load: Load,
    counter: Iterator[int],
) -> int:
    """One keep-alive connection sending requests back to back; returns requests sent."""
    reader, writer = await asyncio.open_connection(HOST, port)
    sent = 0
    try:
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                break
            n = next(counter)
            request = (
                f"GET {path_for(n)} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                "User-Agent: floodway-bench\r\n\r\n"
            ).encode()
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            status = int(head[9:12])
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            t1 = time.perf_counter()
            sent += 1
            if status != 200 or f'"output":"{n}"'.encode() not in body:
                load.errors.append(f"{status} {body[:200]!r}")
                if len(load.errors) > 20:
                    raise BenchmarkError("too many failed requests:\n" + "\n".join(load.errors))
                continue
            if t0 >= stop_warmup:
                load.latencies.append(t1 - t0)
                load.completed += 1
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return sent


async def _drive(port: int, zapikey: str, connections: int, seconds: float) -> Load:
    key = quote(zapikey, safe="")

    def path_for(n: int) -> str:
        return f"/crm/v8/functions/echo/actions/execute?auth_type=apikey&zapikey={key}&value={n}"

    counter = itertools.count(1)
    load = Load()
    start = time.perf_counter()
    stop_warmup = start + WARMUP_SECONDS
    stop_at = stop_warmup + seconds
    await asyncio.gather(
        *(
            _connection(port, path_for, stop_warmup, stop_at, load, counter)
            for _ in range(connections)
        )
    )
    load.elapsed = time.perf_counter() - stop_warmup
    return load


def drive(port: int, zapikey: str, connections: int, seconds: float) -> Load:
    return asyncio.run(_drive(port, zapikey, connections, seconds))


# ---- results --------------------------------------------------------------------------------


def run_database(name: str, database_url: str | None, connections: int, seconds: float) -> Results:
    results = Results(f"{name} ({connections} connections, {seconds:g} s)")
    db_args = ["--database-url", database_url] if database_url else []
    with tempfile.TemporaryDirectory(prefix="floodway-bench-") as tmp:
        data = Path(tmp) / "data"
        client = cli_json("clients", "create", "benchmark", "--data", str(data), "--json", *db_args)
        zapikey = cli_json("apikey", "--data", str(data), "--json", *db_args)["zapikey"]
        with running_server(data, db_args) as server:
            publish_echo(server.url, client)
            before = count_rest_executions(data, database_url)
            print(f"[{name}] {server.url}: {connections} connections for {seconds:g} s", flush=True)
            port = int(server.url.rsplit(":", 1)[1])
            load = drive(port, zapikey, connections, seconds)
        recorded = count_rest_executions(data, database_url) - before
    if load.errors:
        raise BenchmarkError(f"{len(load.errors)} failed requests, first: {load.errors[0]}")
    per_s = load.completed / load.elapsed
    p50 = percentile(load.latencies, 50) * 1000
    p99 = percentile(load.latencies, 99) * 1000
    results.check("requests/s", f"{per_s:,.0f}", per_s >= MUST_REQ_PER_S, "≥ 300 (goal 1,000)")
    results.add("latency p50", f"{p50:.1f} ms")
    results.check("latency p99", f"{p99:.1f} ms", p99 <= MUST_P99_MS, "≤ 100 ms")
    results.add("requests measured (after warm-up)", f"{load.completed:,}")
    results.check(
        "execution records written (warm-up included)",
        f"{recorded:,}",
        recorded >= load.completed,
        "one per call",
    )
    return results


# ---- in-process executor overhead -------------------------------------------------------------


def executor_overhead(calls: int = 20_000, batches: int = 7) -> Results:
    """Per-call cost of ``fx.executor.run`` for a trivial function, compiled code cached."""
    from floodway.crm import Crm
    from floodway.deluge import run as run_program
    from floodway.functions.live_host import LiveHost
    from floodway.functions.service import Functions

    results = Results("Executor overhead in-process (SQLite, trivial function)")
    with tempfile.TemporaryDirectory(prefix="floodway-bench-") as tmp:
        crm, _ = Crm.open(data_dir=Path(tmp))
        try:
            fx = Functions(crm)
            fx.registry.create(TRIVIAL, publish=True, rest_enabled=True)
            live = fx.registry.live("echo")
            assert live is not None
            trigger = {"type": "rest", "auth_type": "apikey"}
            args = {"value": "x"}
            check = fx.executor.run(live, args, trigger=trigger, record=False)
            if check.status != "success" or check.output_text != "x":
                raise BenchmarkError(f"the trivial function failed: {check.error}")

            def per_call(fn: Any, n: int) -> float:
                for _ in range(min(n, 1000)):  # warm
                    fn()
                samples = []
                for _ in range(batches):
                    t0 = time.perf_counter()
                    for _ in range(n):
                        fn()
                    samples.append((time.perf_counter() - t0) / n)
                return statistics.median(samples) * 1e6

            run = fx.executor.run
            overhead = per_call(lambda: run(live, args, trigger=trigger, record=False), calls)
            user = fx.executor.user(None)
            limits = fx.executor.limits_for(live.function)
            program = live.program

            def engine_only() -> None:
                run_program(program, args, LiveHost(fx, user, user), limits, tz=crm.tz)

            engine = per_call(engine_only, calls)
            recorded = per_call(lambda: run(live, args, trigger=trigger), max(calls // 20, 200))
        finally:
            crm.engine.dispose()
    results.check(
        "executor.run per call, record=False",
        f"{overhead:.0f} µs",
        overhead <= MUST_OVERHEAD_US,
        "≤ 200 µs (goal 50 µs)",
    )
    results.add("of which the engine run (deluge.run on a LiveHost)", f"{engine:.0f} µs")
    results.add("executor.run per call with the execution record written", f"{recorded:.0f} µs")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=SECONDS, help="measured seconds")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--quick", action="store_true", help="5 s per database")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    seconds = 5.0 if args.quick else args.seconds
    if seconds <= 0 or not 1 <= args.connections <= 256:
        parser.error("--seconds must be positive and --connections between 1 and 256")

    all_results = [executor_overhead()]
    print("\n" + all_results[-1].table() + "\n", flush=True)
    all_results.append(run_database("SQLite", None, args.connections, seconds))
    print("\n" + all_results[-1].table() + "\n", flush=True)
    if not args.no_postgres:
        with postgres_database() as url:
            if url is not None:
                all_results.append(run_database("PostgreSQL", url, args.connections, seconds))
                print("\n" + all_results[-1].table() + "\n", flush=True)
    return verdict(all_results)


if __name__ == "__main__":
    sys.exit(main())
