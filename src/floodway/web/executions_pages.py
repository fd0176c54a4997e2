"""Executions (console-ux.md §3.12, §3.13): the searchable log and each run's full record, with
"Run again" and the record page's automation panel.

Execution records hold arguments, info lines and return values, so every route needs
``manage_functions`` (security.md AZ-5). The failing source line comes from the version that ran
(``registry.version(function, number)``), not the live one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from . import execution_queries as q
from .http import Ctx, NotFound, route

log = logging.getLogger("floodway.web")
router = APIRouter()

PAGE: Final = "Executions"
PER_PAGE: Final = 50
EXCERPT: Final = 2  # source lines shown above and below the failing one
LIVE_CAP: Final = 99  # "99+ new"
NO_STORE: Final = {"Cache-Control": "no-store"}


def _fx(ctx: Ctx) -> Any:
    ctx.viewer.require("manage_functions", PAGE)
    return ctx.functions


def _time_ms(ctx: Ctx, text: str) -> int | None:
    """A ``datetime-local`` value in the org's time zone, as epoch ms."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ctx.crm.tz)
    return int(dt.timestamp() * 1000)


def log_filter(ctx: Ctx) -> q.LogFilter:
    v = ctx.value
    rng = v("range") or "24h"
    return q.LogFilter(
        function=v("function").strip()[:100],
        status=v("status") if v("status") in q.STATUSES else "",
        trigger=v("trigger") if v("trigger") in q.TRIGGERS else "",
        module=v("module").strip()[:100],
        record=q.record_id_of(v("record")),
        range=rng if rng in q.RANGES else "24h",
        since_ms=_time_ms(ctx, v("from")),
        until_ms=_time_ms(ctx, v("to")),
        q=v("q").strip()[:200],
        before=v("before") if v("before").isdigit() else "",
    )


@route(router, "/executions")
def execution_log(ctx: Ctx) -> Response:
    _fx(ctx)
    f = log_filter(ctx)
    page = q.log_page(ctx.crm, f, ctx.crm.now_ms(), limit=PER_PAGE)
    query = f.query()
    for key in ("from", "to"):
        if ctx.value(key):
            query[key] = ctx.value(key)
    live = None
    if not f.before and f.until_ms is None:
        # The first page of an open-ended range: poll for newer runs (console-ux.md §2).
        after = page.rows[0]["id"] if page.rows else "0"
        live = ctx.url("/executions/newer", **query, after=after)
    return ctx.render(
        "executions/log.html",
        f=f,
        live=live,
        here=ctx.url("/executions", **query),
        rows=page.rows,
        older=ctx.url("/executions", **query, before=page.older) if page.older else None,
        newest=ctx.url("/executions", **query) if f.before else None,
        functions=q.function_names(ctx.crm),
        statuses=q.STATUSES,
        triggers=q.TRIGGERS,
        ranges=[k for k in q.RANGES],
        from_value=ctx.value("from"),
        to_value=ctx.value("to"),
        filters_on=f.active or bool(ctx.value("from") or ctx.value("to")),
        modules=[m.api_name for m in ctx.crm.metadata.modules()],
        toast=(
            f"Run started (execution {ctx.value('started')}); it shows here when it finishes."
            if ctx.value("started").isdigit()
            else None
        ),
    )


@route(router, "/executions/newer")
def newer_executions(ctx: Ctx) -> Response:
    """``{"count": n, "more": bool}``: runs matching the log's filters newer than ``after``."""
    _fx(ctx)
    after = ctx.value("after")
    if not after.isdigit():
        return JSONResponse({"count": 0, "more": False}, status_code=400, headers=NO_STORE)
    n = q.newer_count(ctx.crm, log_filter(ctx), ctx.crm.now_ms(), int(after), cap=LIVE_CAP + 1)
    return JSONResponse({"count": min(n, LIVE_CAP), "more": n > LIVE_CAP}, headers=NO_STORE)


def _execution(fx: Any, execution_id: str) -> dict[str, Any]:
    if not execution_id.isdigit():
        raise NotFound(f"No execution with id {execution_id[:40]}.")
    try:
        found: dict[str, Any] = fx.executions.get(execution_id)
    except Exception as exc:
        if getattr(exc, "code", None) == "NOT_FOUND":
            raise NotFound(
                f"No execution with id {execution_id[:40]} — it may have been purged."
            ) from None
        raise
    return found


@route(router, "/executions/{execution_id}")
def execution_detail(ctx: Ctx, execution_id: str) -> Response:
    fx = _fx(ctx)
    return _detail(ctx, fx, _execution(fx, execution_id))


def _detail(
    ctx: Ctx, fx: Any, e: dict[str, Any], *, rerun_error: str | None = None, status: int = 200
) -> Response:
    error = e.get("error") or None
    excerpt: list[tuple[int, str, bool]] = []
    line = error.get("line") if isinstance(error, dict) else None
    if isinstance(line, int) and e.get("version"):
        try:
            source = fx.registry.version(e["function"], e["version"]).source or ""
            lines = source.split("\n")
            lo, hi = max(1, line - EXCERPT), min(len(lines), line + EXCERPT)
            excerpt = [(n, lines[n - 1], n == line) for n in range(lo, hi + 1)]
        except Exception as exc:  # the function or version was deleted since
            if getattr(exc, "code", None) != "NOT_FOUND":
                raise
    limits = None
    info = fx.registry.find(e["function"])
    if info is not None:
        limits = fx.executor.limits_for(info)
    run_as = None
    if e.get("run_as"):
        user = ctx.crm.users.get(e["run_as"])
        run_as = (user.full_name or user.email) if user else e["run_as"]
    trigger = e.get("trigger") or {}
    chain = [c for c in q.chain(ctx.crm, e.get("chain_id")) if c]
    return ctx.render(
        "executions/detail.html",
        status=status,
        e=e,
        trigger=trigger,
        excerpt=excerpt,
        limits=limits,
        run_as=run_as,
        chain=chain,
        reruns=q.reruns_of(ctx.crm, e["id"]),
        rerun_error=rerun_error,
        can_rerun=e.get("status") != "skipped" and e.get("version") is not None,
        live=info is not None,
    )


@route(router, "/executions/{execution_id}/rerun", ("POST",))
def rerun(ctx: Ctx, execution_id: str) -> Response:
    fx = _fx(ctx)
    e = _execution(fx, execution_id)
    try:
        result = fx.executor.rerun(e["id"], user_id=ctx.viewer.user.id)
    except Exception as exc:
        if exc.__class__.__name__ != "FunctionsError":
            raise
        message = str(getattr(exc, "message", "") or "This execution cannot be run again.")
        return _detail(ctx, fx, e, rerun_error=message[:1].upper() + message[1:], status=409)
    if not result.id:
        return ctx.redirect(f"/executions/{e['id']}")
    return ctx.redirect(f"/executions/{result.id}?done=rerun")


@route(router, "/m/{module}/{record_id}/automation-panel")
def record_panel(ctx: Ctx, module: str, record_id: str) -> Response:
    """A record's pending scheduled actions and latest executions (loaded into its page)."""
    from .records import _module, _record

    viewer = ctx.viewer
    if not (viewer.has("manage_functions") or viewer.has("manage_workflow")):
        return Response(status_code=204)
    mod = _module(ctx, module)
    record = _record(ctx, mod, record_id)
    pending: list[dict[str, Any]] = []
    auto = ctx.automation
    if auto is not None and getattr(auto, "engine", None) is not None:
        try:
            pending = list(auto.engine.pending(mod.api_name, record["id"]))
        except Exception:
            log.exception("pending actions of %s %s", mod.api_name, record["id"])
    recent = []
    if viewer.has("manage_functions"):
        recent = q.record_executions(ctx.crm, record["id"])
    return ctx.render("executions/_record_panel.html", pending=pending, recent=recent)
