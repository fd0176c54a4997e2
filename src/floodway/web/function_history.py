"""A function's version history (console-ux.md §3.7 "History tab"): every version with its state,
author, time and its runs and failures in the last 24 hours (a guide for rollbacks), a diff
between two versions, and rollback — publishing an earlier version after a page that shows the
diff from the live one.

The diff is a unified diff made on the server with ``difflib``; each line is rendered as text by
the template (autoescaping), so source holding markup shows as written (security.md AUTH-9).
The compared range is in the URL (``?compare=2..5``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from fastapi import APIRouter
from starlette.responses import Response

from . import execution_queries as eq
from .functions_pages import author_label, author_of, function_or_404, fx_for
from .http import Ctx, NotFound, route

router = APIRouter()

CONTEXT_LINES: Final = 3


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "hunk" | "add" | "del" | "same"
    old: int | None
    new: int | None
    text: str


@dataclass(frozen=True)
class Diff:
    old: int
    new: int
    lines: list[DiffLine]
    added: int
    removed: int


def unified(old_text: str, new_text: str, old: int, new: int) -> Diff:
    """Line-numbered unified diff of two sources (hunks with three lines of context)."""
    a = old_text.split("\n")
    b = new_text.split("\n")
    out: list[DiffLine] = []
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        i1, j1 = group[0][1], group[0][3]
        i2, j2 = group[-1][2], group[-1][4]
        out.append(DiffLine("hunk", None, None, f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@"))
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                for k in range(a2 - a1):
                    out.append(DiffLine("same", a1 + k + 1, b1 + k + 1, a[a1 + k]))
                continue
            for k in range(a1, a2):
                out.append(DiffLine("del", k + 1, None, a[k]))
                removed += 1
            for k in range(b1, b2):
                out.append(DiffLine("add", None, k + 1, b[k]))
                added += 1
    return Diff(old, new, out, added, removed)


def _range(text: str, latest: int) -> tuple[int, int] | None:
    """``"2..5"`` as (2, 5) when both versions exist."""
    first, sep, second = text.partition("..")
    if not sep or not first.isdigit() or not second.isdigit():
        return None
    a, b = int(first), int(second)
    if not (1 <= a <= latest and 1 <= b <= latest):
        return None
    return a, b


@route(router, "/functions/{api_name}/versions")
def history(ctx: Ctx, api_name: str) -> Response:
    fx = fx_for(ctx)
    info = function_or_404(fx, api_name)
    versions = fx.registry.versions(info.api_name)
    latest = info.latest_version or 0
    compare = ctx.value("compare")
    ticked = [v for v in ctx.values("v") if v.isdigit()]
    if len(ticked) == 2:  # the form's two ticked versions, older first
        low, high = sorted(int(v) for v in ticked)
        compare = f"{low}..{high}"
    chosen = _range(compare, latest)
    diff = None
    if chosen is not None:
        diff = _diff(fx, info.api_name, *chosen)
    elif compare:
        raise NotFound(f"{info.api_name} has no versions {compare}.")
    return ctx.render(
        "functions/history.html",
        info=info,
        rows=_rows(ctx, fx, info, versions),
        diff=diff,
        compare=compare,
        tab="history",
        toast=_toast(ctx),
    )


def _toast(ctx: Ctx) -> str | None:
    number = ctx.value("published")
    if number.isdigit():
        was = ctx.value("was")
        return f"v{number} is live" + (f" (rollback from v{was})" if was.isdigit() else "")
    return None


def _diff(fx: Any, api_name: str, old: int, new: int) -> Diff:
    a = fx.registry.version(api_name, old).source or ""
    b = fx.registry.version(api_name, new).source or ""
    return unified(a, b, old, new)


def _rows(ctx: Ctx, fx: Any, info: Any, versions: list[Any]) -> list[dict[str, Any]]:
    since = datetime.now(UTC) - timedelta(hours=24)
    # Runs and failures per version from one grouped index read (execution_queries.run_counts).
    counted = eq.run_counts(ctx.crm, int(since.timestamp() * 1000), function=info.api_name)
    runs = {int(v): n for v, n in counted.items() if v is not None}
    rows = []
    for v in versions:
        data = v.to_json()
        total, failed = runs.get(v.number, [0, 0])
        rows.append(
            {
                "v": v,
                "created": data["created_time"],
                "author": author_label(ctx, v.author),
                "runs": total,
                "failures": failed,
            }
        )
    return rows


# ---------------------------------------------------------------------------------- rollback


def _version_number(text: str) -> int:
    if not text.isdigit() or len(text) > 9:
        raise NotFound(f"There is no version {text}.")
    return int(text)


@route(router, "/functions/{api_name}/versions/{number}/publish")
def publish_confirm(ctx: Ctx, api_name: str, number: str) -> Response:
    fx = fx_for(ctx)
    info = function_or_404(fx, api_name)
    n = _version_number(number)
    if n > (info.latest_version or 0):
        raise NotFound(f"{info.api_name} has no version {n}.")
    live = info.live_version
    diff = _diff(fx, info.api_name, live, n) if live and live != n else None
    version = next(v for v in fx.registry.versions(info.api_name) if v.number == n)
    return ctx.render(
        "functions/publish.html",
        info=info,
        number=n,
        version=version,
        author=author_label(ctx, version.author),
        diff=diff,
        tab="history",
    )


@route(router, "/functions/{api_name}/versions/{number}/publish", ("POST",))
def publish_version(ctx: Ctx, api_name: str, number: str) -> Response:
    fx = fx_for(ctx)
    info = function_or_404(fx, api_name)
    n = _version_number(number)
    if n > (info.latest_version or 0):
        raise NotFound(f"{info.api_name} has no version {n}.")
    before = info.live_version
    fx.registry.publish(info.api_name, n, author=author_of(ctx))
    return ctx.redirect(
        ctx.url(
            f"/functions/{info.api_name}/versions",
            published=n,
            was=before if before and before != n else None,
        )
    )
