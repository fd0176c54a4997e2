"""Deluge through floodway versus the same algorithm in plain Python, in one process.

Prints the ratio floodway/Python per workload (median of 5 runs) and the absolute time of
parsing + compiling a 2,000-line script. The statement budget is raised so the workloads fit;
every other check stays on. Run: ``python benchmarks/deluge_vs_python.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from floodway.deluge import Limits, User, compile_program, run
from floodway.deluge.compiler import compile_source

RUNS = 5
LIMITS = Limits(statements=50_000_000, time_s=600.0, memory_bytes=2048 * 1024 * 1024)


class BenchHost:
    """A host with nothing behind it: the workloads are pure computation."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def login_user(self) -> User:
        return User("1", "Bench", "bench@example.com")

    admin_user = login_user

    def is_sender_allowed(self, address: str) -> bool:
        return False

    def crm_task(self, task: str, args: list[Any]) -> Any:
        raise NotImplementedError

    def http(self, request: Any) -> Any:
        raise NotImplementedError

    def send_mail(self, mail: Any) -> None:
        pass

    def resolve_function(self, api_name: str) -> Any:
        return None

    def open_url(self, action: Any) -> None:
        pass


# leftpad is capped at 100,000 (Zoho's limit), so a million iterations are 1,000 x 1,000.
COUNTED_LOOP = """
thousand = "".leftpad(1000).toList("");
total = 0;
for each index i in thousand
{
    for each index j in thousand
    {
        total = total + j;
    }
}
return total;
"""


def py_counted_loop() -> int:
    thousand = list(" " * 1000)
    total = 0
    for _i in range(len(thousand)):
        for j in range(len(thousand)):
            total = total + j
    return total


TEXT_APPENDS = """
items = "".leftpad(100000).toList("");
s = "";
for each index i in items
{
    line = "row " + i + ";";
    s = s + line;
}
return s.length();
"""


def py_text_appends() -> int:
    items = list(" " * 100_000)
    s = ""
    for i in range(len(items)):
        line = "row " + str(i) + ";"
        s = s + line
    return len(s)


MAP_FILL_READ = """
items = "".leftpad(100000).toList("");
m = Map();
for each index i in items
{
    m.put("k" + i, i);
}
total = 0;
for each index i in items
{
    total = total + m.get("k" + i);
}
return total;
"""


def py_map_fill_read() -> int:
    items = list(" " * 100_000)
    m: dict[str, int] = {}
    for i in range(len(items)):
        m["k" + str(i)] = i
    total = 0
    for i in range(len(items)):
        total = total + m.get("k" + str(i), 0)
    return total


SHORT_TEXTS = ",".join(f"  item {i} name  " for i in range(100_000))
SPLIT_TRIM_UPPER = """
string standalone.split_trim_upper(String csv)
{
    out = List();
    for each part in csv.toList(",")
    {
        out.add(part.trim().toUpperCase());
    }
    return out.size().toString();
}
"""


def py_split_trim_upper(csv: str) -> str:
    out = []
    for part in csv.split(","):
        out.append(part.strip().upper())
    return str(len(out))


def _payload() -> str:
    rnd = random.Random(7)
    records = []
    size = 0
    while size < 1_000_000:
        rec = {
            "id": str(4150868000000000000 + len(records)),
            "Deal_Name": f"Deal {len(records)} for customer {rnd.randint(1, 10**6)}",
            "Amount": round(rnd.uniform(100, 100000), 2),
            "Stage": rnd.choice(["Qualification", "Negotiation", "Closed Won", "Closed Lost"]),
            "Probability": rnd.randint(0, 100),
            "Tags": [f"t{rnd.randint(1, 50)}" for _ in range(3)],
            "Owner": {"name": "Ana Admin", "id": "4150868000000224001", "email": "ana@example.com"},
            "Closed": rnd.random() < 0.5,
            "Description": None,
        }
        records.append(rec)
        size += len(json.dumps(rec))
    return json.dumps({"data": records, "info": {"count": len(records), "more_records": False}})


PAYLOAD = _payload()
JSON_ROUND_TRIP = """
string standalone.json_round_trip(String payload)
{
    m = payload.toMap();
    s = m.toString();
    return s.length().toString();
}
"""


def py_json_round_trip(payload: str) -> str:
    m = json.loads(payload)
    s = json.dumps(m, separators=(",", ":"), ensure_ascii=False)
    return str(len(s))


def long_script(lines: int = 2000) -> str:
    body = []
    for i in range(lines // 10):
        body.append(
            f"""acc{i} = zoho.crm.getRecordById("Accounts", accountId);
total{i} = 0;
for each deal in deals
{{
    if (deal.get("Stage") == "Closed Won" && deal.get("Amount") != null)
    {{
        total{i} = total{i} + deal.get("Amount");
    }}
}}
info "block {i}: " + total{i} + " " + ifnull(acc{i}.get("Account_Name"), "-");
"""
        )
    return "void automation.big(Int accountId, List deals)\n{\n" + "".join(body) + "}\n"


def median_time(fn: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(RUNS):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def deluge_runner(source: str, args: dict[str, Any] | None = None) -> Callable[[], Any]:
    program = compile_program(source, name="bench")
    host = BenchHost()

    def go() -> Any:
        result = run(program, args or {}, host, LIMITS)
        if result.status != "success":
            raise SystemExit(f"benchmark script failed: {result.error}")
        return result.value

    return go


WORKLOADS: list[tuple[str, str, dict[str, Any] | None, Callable[[], Any], float]] = [
    ("1 counted loop, 1,000,000 iterations", COUNTED_LOOP, None, py_counted_loop, 3.0),
    ("2 text built by 100,000 appends", TEXT_APPENDS, None, py_text_appends, 3.0),
    ("3 map of 100,000 entries filled and read", MAP_FILL_READ, None, py_map_fill_read, 3.0),
    (
        "4 split, trim, upper-case 100,000 texts",
        SPLIT_TRIM_UPPER,
        {"csv": SHORT_TEXTS},
        lambda: py_split_trim_upper(SHORT_TEXTS),
        5.0,
    ),
    (
        "5 toMap() + toString() of 1 MB JSON",
        JSON_ROUND_TRIP,
        {"payload": PAYLOAD},
        lambda: py_json_round_trip(PAYLOAD),
        5.0,
    ),
]


def main() -> None:
    print(f"{'workload':<44} {'floodway ms':>12} {'Python ms':>10} {'ratio':>6} {'must':>5}")
    ok = True
    for name, source, args, py_fn, must in WORKLOADS:
        d_time, d_value = median_time(deluge_runner(source, args))
        p_time, p_value = median_time(py_fn)
        if str(d_value) != str(p_value):
            raise SystemExit(f"{name}: results differ: {d_value!r} vs {p_value!r}")
        ratio = d_time / p_time
        ok = ok and ratio <= must
        print(
            f"{name:<44} {d_time * 1000:>12.1f} {p_time * 1000:>10.1f} {ratio:>6.2f} {must:>5.1f}"
        )
    source = long_script()
    t, _ = median_time(lambda: compile_source(source, "big"))
    print(
        f"{'6 parse + compile of a 2,000-line script':<44} {t * 1000:>12.1f} {'':>10} {'':>6} {'100ms':>5}"
    )
    ok = ok and t < 0.1
    print("all must figures met" if ok else "SOME MUST FIGURES MISSED")


if __name__ == "__main__":
    main()
