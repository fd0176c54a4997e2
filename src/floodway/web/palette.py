"""The command palette (console-ux.md §5, ``Ctrl/⌘+K``): pages, actions, functions, automation
items and records by name that match what the user typed, each only when the viewer's profile
allows it.

``GET /palette?q=…`` answers ``{"results": [{"group", "label", "detail", "href"}]}``, groups in
a fixed order, at most ``PER_GROUP`` entries each. ``static/app.js`` draws the list with text
nodes only (the answer is data, never markup). Records are searched from two characters on, by
the start of their name (the indexed ``lower(name)``), in the first ``RECORD_MODULES`` modules
the viewer can read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from .automation_pages import KINDS
from .http import Ctx, navigation, readable_modules, route
from .record_forms import combined_criteria

router = APIRouter()

PER_GROUP: Final = 6
RECORDS_PER_MODULE: Final = 3
RECORD_MODULES: Final = 6
MAX_QUERY: Final = 100
NO_STORE: Final = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class Entry:
    group: str
    label: str
    detail: str
    href: str


@route(router, "/palette")
def palette(ctx: Ctx) -> Response:
    q = " ".join(ctx.value("q").split())[:MAX_QUERY]
    found: list[Entry] = []
    for group in (_pages, _actions, _functions, _automation, _records):
        found.extend(group(ctx, q)[:PER_GROUP])
    return JSONResponse({"results": [asdict(e) for e in found]}, headers=NO_STORE)


def _matches(q: str, *texts: str | None) -> bool:
    words = q.lower().split()
    hay = " ".join(t for t in texts if t).lower()
    return all(w in hay for w in words)


# The keys that go to a page (app.js), shown next to it.
HINTS: Final = {
    "/": "g h",
    "/functions": "g f",
    "/executions": "g e",
    "/automation/rules": "g r",
    "/settings": "g s",
    "/m/Leads": "g l",
    "/m/Contacts": "g c",
    "/m/Accounts": "g a",
    "/m/Deals": "g d",
    "/m/Tasks": "g t",
}


def _pages(ctx: Ctx, q: str) -> list[Entry]:
    """The navigation's pages (the profile's rights decided them), automation by kind."""
    pages: list[tuple[str, str]] = []
    for items in navigation(ctx, ctx.viewer).values():
        for item in items:
            pages.append((item.label, item.href))
            if item.href == "/automation":
                pages += [(k.title, f"/automation/{k.path}") for k in KINDS.values()]
    return [
        Entry("Pages", label, HINTS.get(href, "page"), href)
        for label, href in pages
        if _matches(q, label)
    ]


def _actions(ctx: Ctx, q: str) -> list[Entry]:
    viewer = ctx.viewer
    actions: list[tuple[str, str]] = []
    if viewer.has("manage_functions"):
        actions.append(("New function", "/functions/new"))
    if viewer.has("manage_workflow"):
        actions += [(f"New {k.label}", f"/automation/{k.path}/new") for k in KINDS.values()]
    for mod in readable_modules(ctx, viewer):
        if viewer.can(mod.api_name, "create"):
            actions.append((f"New {mod.singular_label or mod.api_name}", f"/m/{mod.api_name}/new"))
    if not q:
        actions = actions[:3]
    return [
        Entry("Actions", label, "action", href) for label, href in actions if _matches(q, label)
    ]


def _functions(ctx: Ctx, q: str) -> list[Entry]:
    if not q or not ctx.viewer.has("manage_functions"):
        return []
    out = []
    for info in ctx.functions.registry.list():
        if _matches(q, info.api_name, info.display_name):
            detail = info.category + (f" · {info.display_name}" if info.display_name else "")
            out.append(Entry("Functions", info.api_name, detail, f"/functions/{info.api_name}"))
    return out


def _automation(ctx: Ctx, q: str) -> list[Entry]:
    if not q or not ctx.viewer.has("manage_workflow"):
        return []
    from floodway.api.automation import store as automation_store

    store: Any = automation_store(ctx.request)
    out = []
    for kind in KINDS.values():
        for item in store.list(kind.kind):
            if _matches(q, item.name):
                detail = f"{kind.label} · {item.module or ''}".rstrip(" ·")
                href = f"/automation/{kind.path}/{item.id}"
                out.append(Entry("Automation", item.name, detail, href))
    return out


def _records(ctx: Ctx, q: str) -> list[Entry]:
    if len(q) < 2:
        return []
    out = []
    for mod in readable_modules(ctx, ctx.viewer)[:RECORD_MODULES]:
        criteria = combined_criteria("", mod.name_field, q)
        if not mod.name_field or criteria is None:
            continue
        page = ctx.crm.records.search(
            mod.api_name,
            criteria=criteria,
            per_page=RECORDS_PER_MODULE,
            fields=[mod.name_field],
        )
        label = mod.singular_label or mod.api_name
        for record in page.data:
            name = str(record.get(mod.name_field) or record["id"])
            out.append(Entry("Records", name, label, f"/m/{mod.api_name}/{record['id']}"))
    return out
