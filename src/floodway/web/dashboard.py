"""The executions dashboard (console-ux.md §3.2): runs per hour by status, p50/p95 duration per
function, the top failing functions and statement usage against the limit.

Figures come from the hourly counters per function and status (``execution_queries.dashboard``,
table ``execution_hourly``, console-ux.md §7), never from a scan of the executions; duration
percentiles are approximate to the counters' histogram buckets. They are rendered on the server; the
chart's data travels as JSON in a ``data-chart`` attribute that ``static/charts.js`` hands to the
vendored uPlot (no inline script, security.md AUTH-9). Every chart has a table view too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Final

from fastapi import APIRouter
from starlette.responses import Response

from . import execution_queries as q
from .http import Ctx, route

router = APIRouter()

PAGE: Final = "the dashboard"
STATEMENT_WARN: Final = 0.8


@route(router, "/dashboard")
def dashboard_page(ctx: Ctx) -> Response:
    ctx.viewer.require("manage_functions", PAGE)
    fx = ctx.functions
    range_key = ctx.value("range") or "24h"
    d = q.dashboard(ctx.crm, range_key, ctx.crm.now_ms())
    limits = {}
    for info in fx.registry.list():
        limits[info.api_name] = fx.executor.limits_for(info)
    default_statements = int(getattr(fx.executor, "statement_limit", 0) or 200_000)
    usage = []
    for s in d.statements:
        lim = limits.get(s["name"])
        limit = int(lim.statements) if lim is not None else default_statements
        share = s["max"] / limit if limit else 0.0
        usage.append({**s, "limit": limit, "share": share, "high": share >= STATEMENT_WARN})
    slowest = []
    for p in d.per_function[:5]:
        lim = limits.get(p["name"])
        slowest.append({**p, "time_s": float(lim.time_s) if lim is not None else None})
    runs = sum(d.totals.values())
    prev_runs = sum(d.previous.values())
    chart = {
        "x": d.buckets,
        "series": {k: d.series[k] for k in ("success", "failure", "skipped")},
        "bucket_s": d.bucket_s,
    }
    return ctx.render(
        "executions/dashboard.html",
        d=d,
        runs=runs,
        prev_runs=prev_runs,
        failures=d.totals.get("failure", 0),
        prev_failures=d.previous.get("failure", 0),
        skipped=d.totals.get("skipped", 0),
        chart_json=json.dumps(chart, separators=(",", ":")),
        table=[
            {
                "start": _label(t, d.bucket_s),
                "success": d.series["success"][i],
                "failure": d.series["failure"][i],
                "skipped": d.series["skipped"][i],
            }
            for i, t in enumerate(d.buckets)
        ],
        summary=_summary(d, runs),
        usage=usage,
        slowest=slowest,
        max_share=max((u["share"] for u in usage), default=0.0),
        ranges=list(q.DASH_RANGES),
    )


def _label(epoch_s: int, bucket_s: int) -> str:
    dt = datetime.fromtimestamp(epoch_s, UTC)
    return dt.strftime("%Y-%m-%d" if bucket_s >= 86400 else "%m-%d %H:%M")


def _summary(d: q.Dashboard, runs: int) -> str:
    if not runs:
        names = {"24h": "24 h", "7d": "7 days", "30d": "30 days"}
        return f"No runs in the last {names.get(d.range, d.range)}."
    fails = d.totals.get("failure", 0)
    text = f"{runs:,} run{'s' if runs != 1 else ''}, {fails:,} failure{'s' if fails != 1 else ''}"
    if d.busiest is not None:
        text += f", busiest {_label(d.busiest, d.bucket_s)} UTC"
    return text + "."
