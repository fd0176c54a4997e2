"""Custom buttons and function-fed related lists on record pages (console-ux.md §3.3, §3.4).

They appear only when the process runs the automation service (``app.state.automation``,
docs/automation-service-api.md); without it the hooks render nothing. A button or related list
runs only for a user who can read the record — each selected record for list buttons
(security.md AZ-3). What the function returns is shown as text; URLs must be http(s) and open
with ``rel="noopener noreferrer"`` (AUTH-10).
"""

from __future__ import annotations

import logging
from typing import Any, Final

from fastapi import APIRouter
from starlette.responses import Response

from .formatting import safe_http_url
from .http import Ctx, NotFound, route

log = logging.getLogger("floodway.web")
router = APIRouter()

MAX_SELECTED: Final = 100


def buttons(ctx: Ctx, module: str, placement: str) -> list[Any]:
    """Enabled buttons of a module for ``detail`` or ``list`` placement ([] without automation)."""
    auto = ctx.automation
    if auto is None:
        return []
    try:
        items = auto.store.active("button", module)
    except Exception:
        log.exception("could not read the buttons of %s", module)
        return []
    return [i for i in items if getattr(i.spec, "placement", "detail") == placement]


def related_lists(ctx: Ctx, module: str) -> list[Any]:
    auto = ctx.automation
    if auto is None:
        return []
    try:
        return list(auto.store.active("related_list", module))
    except Exception:
        log.exception("could not read the related lists of %s", module)
        return []


def _automation(ctx: Ctx) -> Any:
    auto = ctx.automation
    if auto is None:
        raise NotFound("Buttons and related lists are not available on this server.")
    return auto


def _readable_module(ctx: Ctx, module: str) -> Any:
    from .records import _module

    return _module(ctx, module)


def _result_response(
    ctx: Ctx, mod: Any, result: dict[str, Any] | None, error: str | None, back: str
) -> Response:
    url = safe_http_url((result or {}).get("url"))
    context = {
        "message": (result or {}).get("message"),
        "url": url,
        "bad_url": bool((result or {}).get("url")) and url is None,
        "error": error,
        "back": back,
        "mod": mod,
    }
    if ctx.is_htmx:
        return ctx.render("records/_button_result.html", **context)
    return ctx.render("records/button_page.html", **context)


def _error_text(exc: Exception) -> str:
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message:
        return message
    return "The button could not be run."


@route(router, "/m/{module}/{record_id}/buttons/{button_id}", ("POST",))
def run_detail_button(ctx: Ctx, module: str, record_id: str, button_id: str) -> Response:
    from .records import _record

    auto = _automation(ctx)
    mod = _readable_module(ctx, module)
    record = _record(ctx, mod, record_id)
    if button_id not in {b.id for b in buttons(ctx, mod.api_name, "detail")}:
        raise NotFound("This button does not exist on this module (any more).")
    back = f"/m/{mod.api_name}/{record['id']}"
    try:
        result = auto.buttons.run(button_id, [record["id"]], ctx.viewer.user.id)
    except Exception as exc:
        if exc.__class__.__name__ != "AutomationError":
            raise
        return _result_response(ctx, mod, None, _error_text(exc), back)
    return _result_response(ctx, mod, result, None, back)


@route(router, "/m/{module}/list-buttons/{button_id}", ("POST",))
def run_list_button(ctx: Ctx, module: str, button_id: str) -> Response:
    auto = _automation(ctx)
    mod = _readable_module(ctx, module)
    back = f"/m/{mod.api_name}"
    if button_id not in {b.id for b in buttons(ctx, mod.api_name, "list")}:
        raise NotFound("This button does not exist on this module (any more).")
    ids = [i for i in ctx.values("ids") if i.isdigit()][:MAX_SELECTED]
    if not ids:
        return _result_response(ctx, mod, None, "Select at least one record first.", back)
    found = ctx.crm.records.list(mod.api_name, ids=ids, fields=["id"], per_page=MAX_SELECTED)
    if len({r["id"] for r in found.data}) != len(set(ids)):
        raise NotFound("Some of the selected records no longer exist. Reload the list.")
    try:
        result = auto.buttons.run(button_id, ids, ctx.viewer.user.id)
    except Exception as exc:
        if exc.__class__.__name__ != "AutomationError":
            raise
        return _result_response(ctx, mod, None, _error_text(exc), back)
    return _result_response(ctx, mod, result, None, back)


@route(router, "/m/{module}/{record_id}/related-functions/{list_id}")
def related_list_fragment(ctx: Ctx, module: str, record_id: str, list_id: str) -> Response:
    from .records import _record

    auto = _automation(ctx)
    mod = _readable_module(ctx, module)
    record = _record(ctx, mod, record_id)
    if list_id not in {i.id for i in related_lists(ctx, mod.api_name)}:
        raise NotFound("This related list does not exist on this module (any more).")
    try:
        result = auto.related_lists.run(list_id, mod.api_name, record["id"], ctx.viewer.user.id)
    except Exception as exc:
        if exc.__class__.__name__ != "AutomationError":
            raise
        result = {"columns": [], "rows": [], "links": {}, "error": _error_text(exc)}
    return ctx.render("records/_related_function.html", table=_table(result))


def _table(result: dict[str, Any]) -> dict[str, Any]:
    """Rows as (text, safe link) cells in column order."""
    columns = [str(c) for c in result.get("columns") or []]
    links = result.get("links") or {}
    rows = []
    for index, row in enumerate(result.get("rows") or []):
        row_links = links.get(str(index)) or links.get(index) if isinstance(links, dict) else None
        cells = []
        for col in columns:
            value = row.get(col) if isinstance(row, dict) else None
            href = None
            if isinstance(row_links, dict):
                href = safe_http_url(row_links.get(col))
            elif isinstance(links, dict) and isinstance(links.get(col), list):
                col_links = links[col]
                href = safe_http_url(col_links[index]) if index < len(col_links) else None
            cells.append({"text": "" if value is None else str(value), "href": href})
        rows.append(cells)
    return {
        "columns": columns,
        "rows": rows,
        "error": result.get("error"),
        "message": result.get("message"),
        "truncated": bool(result.get("truncated")),
    }
