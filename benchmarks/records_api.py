"""The Zoho-compatible records REST API against a live ``floodway serve``, on SQLite and PostgreSQL.

For each database the script starts ``floodway serve`` on 127.0.0.1 (any free port) in a
temporary data directory, with the rate limit switched off, obtains an OAuth token the way a
client does (``floodway clients create`` + the refresh-token grant) and measures:

1. bulk create of Deals through ``POST /crm/v8/Deals`` in batches of 100, with a few concurrent
   clients (records/s);
2. get by id: ``GET /crm/v8/Deals/{id}`` for random ids (p50, p99, req/s);
3. the criteria search ``(Stage:equals:Closed Won)`` over all Deals, first page (p50);
4. related records: ``GET /crm/v8/Accounts/{id}/Deals`` for 20 Accounts with 50 Deals each (p50).

PostgreSQL runs in a fresh database on 127.0.0.1:5432 that the script creates and drops; it is
skipped with a note when the server cannot be reached. Every request goes to 127.0.0.1 only.

Run: ``python benchmarks/records_api.py`` (100,000 Deals), ``--quick`` (10,000) for a fast check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from live_server import (
    CLI,
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

BATCH = 100
GET_REQUESTS = 10_000
SEARCH_REQUESTS = 50
RELATED_ACCOUNTS = 20
RELATED_PER_ACCOUNT = 50
RELATED_REQUESTS = 500
WARMUP_REQUESTS = 5


MUST_CREATE_PER_S_SQLITE = 1_000.0
MUST_SEARCH_P50_MS = 50.0

SEARCH_CRITERIA = "(Stage:equals:Closed Won)"
OTHER_STAGES = ("Qualification", "Needs Analysis", "Proposal/Price Quote")


def create_client(data: Path, db_args: list[str]) -> dict[str, str]:
    """A self client of the admin, created the way a user does, before the first serve."""
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
    client: dict[str, str] = json.loads(done.stdout)
    return client


# ---- PostgreSQL -----------------------------------------------------------------------------


# ---- measurements ---------------------------------------------------------------------------


@dataclass
class Results:
    database: str
    records: int
    concurrency: int
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def add(self, metric: str, value: str, must: str = "") -> None:
        self.rows.append((metric, value, must))

    def check(self, metric: str, value: str, ok: bool, requirement: str) -> None:
        mark = "met" if ok else "**MISSED**"
        self.add(metric, value, f"{requirement}: {mark}")
        if not ok:
            self.missed.append(f"{self.database}: {metric} = {value} (must {requirement})")

    def table(self) -> str:
        lines = [
            f"### {self.database} ({self.records:,} Deals, {self.concurrency} concurrent clients)",
            "",
            "| metric | value | must |",
            "| --- | ---: | --- |",
        ]
        lines += [f"| {m} | {v} | {r} |" for m, v, r in self.rows]
        return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def deal(i: int, rng: random.Random, account_id: str | None = None) -> dict[str, Any]:
    stage = "Closed Won" if i % 4 == 0 else OTHER_STAGES[i % len(OTHER_STAGES)]
    closing = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(365))
    row: dict[str, Any] = {
        "Deal_Name": f"Benchmark deal {i}",
        "Stage": stage,
        "Amount": round(rng.uniform(100, 100_000), 2),
        "Closing_Date": closing.isoformat(),
    }
    if account_id is not None:
        row["Account_Name"] = {"id": account_id}
    return row


def post_records(http: httpx.Client, module: str, rows: list[dict[str, Any]]) -> list[str]:
    """Creates the rows in one request; their ids in input order."""
    response = http.post(f"/crm/v8/{module}", json={"data": rows})
    if response.status_code != 201:
        raise BenchmarkError(f"POST {module}: {response.status_code} {response.text[:500]}")
    return [item["details"]["id"] for item in response.json()["data"]]


def in_parallel(concurrency: int, work: Callable[[int], None]) -> None:
    """work(worker index) on `concurrency` threads; the first exception is re-raised."""
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def bulk_create(url: str, token: str, count: int, concurrency: int) -> tuple[list[str], float]:
    """Creates `count` Deals in batches of 100 over `concurrency` clients: (ids, seconds)."""
    batches = [list(range(start, min(start + BATCH, count))) for start in range(0, count, BATCH)]
    ids: list[list[str]] = [[] for _ in batches]

    def work(worker: int) -> None:
        rng = random.Random(worker)
        with http_client(url, token) as http:
            for b in range(worker, len(batches), concurrency):
                ids[b] = post_records(http, "Deals", [deal(i, rng) for i in batches[b]])

    started = time.perf_counter()
    in_parallel(concurrency, work)
    elapsed = time.perf_counter() - started
    return [rid for batch in ids for rid in batch], elapsed


def get_by_id(url: str, token: str, ids: list[str], concurrency: int) -> tuple[list[float], float]:
    """GET_REQUESTS gets of random ids over `concurrency` clients: (latencies, seconds)."""
    per_worker = [GET_REQUESTS // concurrency] * concurrency
    per_worker[0] += GET_REQUESTS - sum(per_worker)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]

    def work(worker: int) -> None:
        rng = random.Random(1000 + worker)
        with http_client(url, token) as http:
            for _ in range(per_worker[worker]):
                rid = rng.choice(ids)
                t0 = time.perf_counter()
                response = http.get(f"/crm/v8/Deals/{rid}")
                latencies[worker].append(time.perf_counter() - t0)
                if response.status_code != 200 or response.json()["data"][0]["id"] != rid:
                    raise BenchmarkError(f"GET Deals/{rid}: {response.status_code}")

    started = time.perf_counter()
    in_parallel(concurrency, work)
    elapsed = time.perf_counter() - started
    return [s for worker in latencies for s in worker], elapsed


def timed_gets(
    http: httpx.Client, requests: int, target: Callable[[int], tuple[str, dict[str, str]]]
) -> list[float]:
    """`requests` sequential GETs (after a few unmeasured warm-up ones); their latencies. Each
    answer must be 200 with a full page."""
    latencies: list[float] = []
    for n in range(-WARMUP_REQUESTS, requests):
        path, params = target(n)
        t0 = time.perf_counter()
        response = http.get(path, params=params)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200 or not response.json().get("data"):
            raise BenchmarkError(f"GET {path} {params}: {response.status_code}")
        if n >= 0:
            latencies.append(elapsed)
    return latencies


def get_page(http: httpx.Client, path: str, params: dict[str, str] | None = None) -> Any:
    """The JSON body of a GET that must answer 200."""
    response = http.get(path, params=params)
    if response.status_code != 200:
        raise BenchmarkError(f"GET {path} {params}: {response.status_code} {response.text[:500]}")
    return response.json()


def search_first_page(http: httpx.Client, matches: int) -> list[float]:
    """The first page of the Closed Won search, `matches` records matching in all."""
    params = {"criteria": SEARCH_CRITERIA}
    info = get_page(http, "/crm/v8/Deals/search", params)["info"]
    if info["count"] != min(200, matches) or info["more_records"] != (matches > 200):
        raise BenchmarkError(f"unexpected search result for {matches} matches: {info}")
    return timed_gets(http, SEARCH_REQUESTS, lambda _: ("/crm/v8/Deals/search", params))


def related_fetch(http: httpx.Client) -> list[float]:
    """20 Accounts with 50 Deals each, then GET Accounts/{id}/Deals for random Accounts."""
    accounts = post_records(
        http,
        "Accounts",
        [{"Account_Name": f"Benchmark account {a}"} for a in range(RELATED_ACCOUNTS)],
    )
    rng = random.Random(7)
    children = [
        deal(10_000_000 + a * RELATED_PER_ACCOUNT + d, rng, account)
        for a, account in enumerate(accounts)
        for d in range(RELATED_PER_ACCOUNT)
    ]
    for start in range(0, len(children), BATCH):
        post_records(http, "Deals", children[start : start + BATCH])
    info = get_page(http, f"/crm/v8/Accounts/{accounts[0]}/Deals")["info"]
    if info["count"] != RELATED_PER_ACCOUNT:
        raise BenchmarkError(f"unexpected related records: {info}")

    def target(_: int) -> tuple[str, dict[str, str]]:
        return f"/crm/v8/Accounts/{rng.choice(accounts)}/Deals", {}

    return timed_gets(http, RELATED_REQUESTS, target)


def run_database(name: str, database_url: str | None, records: int, concurrency: int) -> Results:
    results = Results(name, records, concurrency)
    db_args = ["--database-url", database_url] if database_url else []
    with tempfile.TemporaryDirectory(prefix="floodway-bench-") as tmp:
        data = Path(tmp) / "data"
        client = create_client(data, db_args)
        with running_server(data, db_args) as server:
            token = access_token(server.url, client)
            print(f"[{name}] serving on {server.url}; creating {records:,} Deals", flush=True)

            ids, seconds = bulk_create(server.url, token, records, concurrency)
            per_s = len(ids) / seconds
            label = f"bulk create, batches of {BATCH} ({len(ids):,} Deals in {seconds:.1f} s)"
            if name == "SQLite":
                results.check(
                    label, f"{per_s:,.0f} records/s", per_s >= MUST_CREATE_PER_S_SQLITE, "≥ 1,000/s"
                )
            else:
                results.add(label, f"{per_s:,.0f} records/s")

            print(f"[{name}] get by id", flush=True)
            latencies, seconds = get_by_id(server.url, token, ids, concurrency)
            results.add(f"get by id p50 ({GET_REQUESTS:,} requests)", ms(percentile(latencies, 50)))
            results.add("get by id p99", ms(percentile(latencies, 99)))
            results.add("get by id throughput", f"{len(latencies) / seconds:,.0f} req/s")

            with http_client(server.url, token) as http:
                print(f"[{name}] search", flush=True)
                closed_won = (records + 3) // 4
                p50 = percentile(search_first_page(http, closed_won), 50)
                results.check(
                    f"search {SEARCH_CRITERIA}, first page of 200, p50 ({SEARCH_REQUESTS} requests)",
                    ms(p50),
                    p50 * 1000 <= MUST_SEARCH_P50_MS,
                    "≤ 50 ms",
                )
                print(f"[{name}] related records", flush=True)
                p50 = percentile(related_fetch(http), 50)
                results.add(
                    f"related Accounts/{{id}}/Deals (50 rows) p50 ({RELATED_REQUESTS} requests)",
                    ms(p50),
                )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000, help="Deals to create")
    parser.add_argument("--quick", action="store_true", help="10,000 Deals, for a fast check")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="clients for bulk create and get by id"
    )
    args = parser.parse_args(argv)
    records = 10_000 if args.quick else args.records
    if records < 1 or not 1 <= args.concurrency <= 64:
        parser.error("--records must be positive and --concurrency between 1 and 64")

    all_results = [run_database("SQLite", None, records, args.concurrency)]
    print("\n" + all_results[-1].table() + "\n", flush=True)
    with postgres_database() as url:
        if url is not None:
            all_results.append(run_database("PostgreSQL", url, records, args.concurrency))
            print("\n" + all_results[-1].table() + "\n", flush=True)

    return verdict(all_results)


if __name__ == "__main__":
    sys.exit(main())
