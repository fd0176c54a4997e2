"""Record pages (console-ux.md §3.3–3.5): module list, record detail, create/edit forms, notes,
delete. Every handler checks the profile's module right first (security.md AZ-1/AZ-2); lists page
and sort in SQL through ``crm.records.list``/``search``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter
from starlette.responses import Response

from . import automation_hooks as hooks
from . import preferences
from .formatting import Shown, show
from .http import Ctx, Forbidden, NotFound, Viewer, route
from .record_forms import (
    MAX_LIST_COLUMNS,
    MAX_LOOKUP_CHOICES,
    FieldView,
    FormErrors,
    column_choices,
    combined_criteria,
    editable,
    errors_from_row,
    field_views,
    list_columns,
    plural,
    row_from_typed,
    sections,
    singular,
    system_views,
    typed_from_form,
    typed_from_record,
)

router = APIRouter()

PER_PAGE_CHOICES: Final = (10, 25, 50, 100, 200)
DEFAULT_PER_PAGE: Final = 50
RELATED_SHOWN: Final = 10
TOASTS: Final = {
    "created": "{s} created",
    "saved": "{s} saved",
    "deleted": "{s} deleted",
    "note": "Note added",
    "columns": "Columns saved",
}


# ---------------------------------------------------------------------------------- helpers


def _crm_error() -> type[Exception]:
    from floodway.crm import CrmError

    return CrmError


def _actor(viewer: Viewer) -> Any:
    from floodway.crm import Actor

    return Actor(viewer.user.id, "ui", workflow=True)


def _module(ctx: Ctx, name: str, op: str = "read") -> Any:
    try:
        mod = ctx.crm.metadata.module(name)
    except _crm_error():
        raise NotFound(f"There is no module named {name}.") from None
    label = plural(mod) if op == "read" else singular(mod).lower() + " records"
    ctx.viewer.require_module(mod.api_name, op, label)
    return mod


def _record(ctx: Ctx, mod: Any, record_id: str) -> dict[str, Any]:
    record = ctx.crm.records.get(mod.api_name, record_id) if record_id.isdigit() else None
    if record is None:
        raise NotFound(f"No {singular(mod)} with id {record_id} — it may have been deleted.")
    return record


def _readable_link(viewer: Viewer, shown: Shown) -> Shown:
    """Lookups to modules the viewer cannot open are shown as text (AZ-1)."""
    if shown.href and shown.href.startswith("/m/"):
        target = shown.href.split("/")[2]
        if not viewer.can(target, "read"):
            return Shown(shown.text)
    return shown


def _cell(viewer: Viewer, record: dict[str, Any], f: FieldView) -> Shown:
    value = record.get(f.api_name)
    shown = show(value, f.type, targets=f.targets, symbol=record.get("$currency_symbol") or "")
    return _readable_link(viewer, shown)


def _toast(ctx: Ctx, mod: Any) -> str | None:
    key = ctx.value("done")
    template = TOASTS.get(key)
    return template.format(s=singular(mod)) if template else None


# ---------------------------------------------------------------------------------- list


@route(router, "/m/{module}")
def module_list(ctx: Ctx, module: str) -> Response:
    return _list_page(ctx, _module(ctx, module))


def _columns_preference(mod: Any) -> str:
    return f"columns:{mod.api_name}"


@route(router, "/m/{module}/columns", ("POST",))
def choose_columns(ctx: Ctx, module: str) -> Response:
    """The signed-in user's columns for this module's list: the ticked ones, ordered by the
    numbers given (ties keep the form's order); "Reset" goes back to the default."""
    mod = _module(ctx, module)
    name = _columns_preference(mod)
    user = ctx.viewer.user.id
    if ctx.value("op") == "reset":
        preferences.clear(ctx.crm.engine, user, name)
        return ctx.redirect(f"/m/{mod.api_name}?done=columns")
    offered = [c.api_name for c in column_choices(mod, field_views(mod))]
    ticked = [n for n in offered if n in set(ctx.values("col"))]

    def place(n: str) -> tuple[int, int]:
        return (_int(ctx.value("pos_" + n), 999, 1, 999), offered.index(n))

    chosen = sorted(ticked, key=place)
    if not chosen or len(chosen) > MAX_LIST_COLUMNS:
        problem = (
            "Tick at least one column."
            if not chosen
            else f"Choose at most {MAX_LIST_COLUMNS} columns ({len(chosen)} are ticked)."
        )
        return _list_page(ctx, mod, chooser={"problem": problem, "ticked": chosen}, status=422)
    preferences.save(ctx.crm.engine, user, name, chosen, ctx.crm.now_ms())
    return ctx.redirect(f"/m/{mod.api_name}?done=columns")


def _list_page(
    ctx: Ctx, mod: Any, *, chooser: dict[str, Any] | None = None, status: int = 200
) -> Response:
    viewer = ctx.viewer
    fields = field_views(mod)
    chosen = preferences.load(ctx.crm.engine, viewer.user.id, _columns_preference(mod))
    columns = list_columns(mod, fields, chosen)
    sortable = {c.api_name for c in columns if c.sortable} | {"Created_Time", "Modified_Time"}
    sort = ctx.value("sort")
    sort = sort if sort in sortable else ""
    order = ctx.value("order").lower()
    order = order if order in ("asc", "desc") else ("asc" if sort else "")
    page = _int(ctx.value("page"), 1, 1, 10_000)
    per_page = _int(ctx.value("per_page"), DEFAULT_PER_PAGE, 1, 200)
    per_page = per_page if per_page in PER_PAGE_CHOICES else DEFAULT_PER_PAGE
    criteria = ctx.value("criteria")[:4000]
    q = ctx.value("q")[:200]
    where = combined_criteria(criteria, mod.name_field, q)
    wanted = [c.api_name for c in columns]
    error = None
    records: list[dict[str, Any]] = []
    info: dict[str, Any] = {}
    try:
        common = {
            "fields": wanted,
            "page": page,
            "per_page": per_page,
            "sort_by": sort or None,
            "sort_order": order or None,
        }
        if where:
            result = ctx.crm.records.search(mod.api_name, criteria=where, **common)
        else:
            result = ctx.crm.records.list(mod.api_name, actor=_actor(viewer), **common)
        records, info = result.data, result.info
    except _crm_error() as exc:
        error = _query_error(exc)
    rows = [
        {
            "id": r["id"],
            "cells": [_cell(viewer, r, c) for c in columns],
        }
        for r in records
    ]
    first = (page - 1) * per_page + 1
    state = {"sort": sort, "order": order, "criteria": criteria, "q": q, "per_page": per_page}
    if per_page == DEFAULT_PER_PAGE:
        state["per_page"] = ""
    shown = [c.api_name for c in columns[1:]]
    ticked = chooser["ticked"] if chooser else shown
    choices = column_choices(mod, fields)
    choices.sort(key=lambda c: ticked.index(c.api_name) if c.api_name in ticked else len(ticked))
    return ctx.render(
        "records/list.html",
        status=status,
        chooser={
            "choices": choices,
            "ticked": ticked,
            "problem": (chooser or {}).get("problem"),
            "custom": isinstance(chosen, list),
            "max": MAX_LIST_COLUMNS,
        },
        mod=mod,
        label=plural(mod),
        singular=singular(mod),
        columns=columns,
        rows=rows,
        error=error,
        page=page,
        per_page=per_page,
        per_page_choices=PER_PAGE_CHOICES,
        first=first,
        last=first + len(rows) - 1,
        more=bool(info.get("more_records")),
        state=state,
        filtered=bool(where),
        can_create=viewer.can(mod.api_name, "create"),
        list_buttons=hooks.buttons(ctx, mod.api_name, "list"),
        toast=_toast(ctx, mod),
    )


def _int(text: str, default: int, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        return default
    return min(max(value, low), high)


def _query_error(exc: Exception) -> str:
    code = getattr(exc, "code", "")
    details = getattr(exc, "details", None) or {}
    if code == "INVALID_QUERY":
        reason = details.get("reason")
        if reason:
            return f"The filter cannot be read: {reason}."
        parts = [details.get("api_name"), details.get("operator")]
        named = " ".join(str(p) for p in parts if p)
        return (
            f"The filter cannot be used: {named} is not supported."
            if named
            else ("The filter cannot be read.")
        )
    if code == "LIMIT_REACHED":
        return "Only the first 2,000 matches can be paged through; narrow the filter."
    if code == "LIMIT_EXCEEDED":
        return "The filter has too many conditions."
    return str(getattr(exc, "message", "The list could not be loaded."))


# ---------------------------------------------------------------------------------- detail


# "new" must be matched before "{record_id}".
@route(router, "/m/{module}/new")
def new_form(ctx: Ctx, module: str) -> Response:
    mod = _module(ctx, module, "create")
    fields = editable(field_views(mod))
    typed = typed_from_record({}, fields)
    typed["Owner"] = ctx.viewer.user.id
    return _form(ctx, mod, record=None, typed=typed)


@route(router, "/m/{module}/{record_id}")
def record_detail(ctx: Ctx, module: str, record_id: str) -> Response:
    viewer = ctx.viewer
    mod = _module(ctx, module)
    record = _record(ctx, mod, record_id)
    fields = field_views(mod)
    shown_sections = [
        (title, [(f, _cell(viewer, record, f)) for f in group])
        for title, group in sections(mod, fields)
    ]
    system = [(f, _cell(viewer, record, f)) for f in system_views()]
    related = _related(ctx, viewer, mod, record["id"])
    title = _title(record, mod)
    return ctx.render(
        "records/detail.html",
        mod=mod,
        label=plural(mod),
        singular=singular(mod),
        record=record,
        title=title,
        sections=shown_sections,
        system=system,
        related=related,
        can_edit=viewer.can(mod.api_name, "edit"),
        can_delete=viewer.can(mod.api_name, "delete"),
        can_note=viewer.can("Notes", "create"),
        detail_buttons=hooks.buttons(ctx, mod.api_name, "detail"),
        function_lists=hooks.related_lists(ctx, mod.api_name),
        toast=_toast(ctx, mod),
    )


def _title(record: dict[str, Any], mod: Any) -> str:
    value = record.get(mod.name_field)
    if isinstance(value, dict):
        value = value.get("name")
    return str(value) if value not in (None, "") else f"{singular(mod)} {record.get('id')}"


def _related(ctx: Ctx, viewer: Viewer, mod: Any, record_id: str) -> list[dict[str, Any]]:
    """Notes and Tasks of the record (when the module has them and the profile may read them)."""
    names = {r["api_name"] for r in ctx.crm.metadata.related_lists_json(mod.api_name)}
    out = []
    for name, cols in (
        ("Notes", ("Note_Title", "Note_Content", "Modified_Time")),
        ("Tasks", ("Subject", "Due_Date", "Status", "Owner")),
    ):
        if name not in names or not viewer.can(name, "read"):
            continue
        child = ctx.crm.metadata.module(name)
        views = {f.api_name: f for f in [*field_views(child), *system_views()]}
        page = ctx.crm.records.related(
            mod.api_name,
            record_id,
            name,
            per_page=RELATED_SHOWN,
            actor=_actor(viewer),
        )
        rows = [
            {"id": r["id"], "cells": [_cell(viewer, r, views[c]) for c in cols if c in views]}
            for r in (page.data if page is not None else [])
        ]
        out.append(
            {
                "name": name,
                "label": plural(child),
                "columns": [views[c] for c in cols if c in views],
                "rows": rows,
                "more": bool(page is not None and page.info.get("more_records")),
            }
        )
    return out


# ---------------------------------------------------------------------------------- forms


def _choices(
    ctx: Ctx,
    viewer: Viewer,
    fields: list[FieldView],
    typed: dict[str, Any],
    record: dict[str, Any] | None,
) -> dict[str, list[tuple[str, str]]]:
    """Options of lookup selects: the first records of the target module (by name) and the
    current value; owners: the active users."""
    out: dict[str, list[tuple[str, str]]] = {}
    for f in fields:
        if f.type != "lookup" or len(f.targets) != 1 or not viewer.can(f.targets[0], "read"):
            continue
        target = ctx.crm.metadata.module(f.targets[0])
        page = ctx.crm.records.list(
            target.api_name, fields=[target.name_field], per_page=MAX_LOOKUP_CHOICES
        )
        options = [(r["id"], _title(r, target)) for r in page.data]
        current = typed.get(f.api_name)
        if current and current not in {i for i, _ in options}:
            name = None
            if record is not None and isinstance(record.get(f.api_name), dict):
                name = record[f.api_name].get("name")
            options.insert(0, (current, name or current))
        out[f.api_name] = sorted(options, key=lambda o: o[1].lower())
    out["Owner"] = [(u.id, u.full_name or u.email) for u in ctx.crm.users.list("ActiveUsers")]
    return out


def _parent_modules(ctx: Ctx, viewer: Viewer) -> list[str]:
    return [
        m.api_name
        for m in ctx.crm.metadata.modules()
        if m.api_name not in ("Notes", "Tasks", "Events", "Calls", "Attachments")
        and viewer.can(m.api_name, "read")
    ]


def _form(
    ctx: Ctx,
    mod: Any,
    *,
    record: dict[str, Any] | None,
    typed: dict[str, Any],
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    viewer = ctx.viewer
    fields = editable(field_views(mod))
    return ctx.render(
        "records/form.html",
        status=status,
        mod=mod,
        label=plural(mod),
        singular=singular(mod),
        record=record,
        title=_title(record, mod) if record else None,
        sections=sections(mod, fields),
        typed=typed,
        errors=errors or FormErrors({}, []),
        choices=_choices(ctx, viewer, fields, typed, record),
        parent_modules=_parent_modules(ctx, viewer),
        modified=(record or {}).get("Modified_Time") or "",
    )


@route(router, "/m/{module}/new", ("POST",))
def create(ctx: Ctx, module: str) -> Response:
    viewer = ctx.viewer
    mod = _module(ctx, module, "create")
    fields = editable(field_views(mod))
    typed = typed_from_form(ctx, fields)
    row = row_from_typed(typed, fields, ctx.crm.tz, creating=True)
    result = ctx.crm.records.create(mod.api_name, [row], actor=_actor(viewer))[0]
    if result.get("status") != "success":
        errors = errors_from_row(result, fields, mod)
        return _form(ctx, mod, record=None, typed=typed, errors=errors, status=422)
    rid = result["details"]["id"]
    return ctx.redirect(f"/m/{mod.api_name}/{rid}?done=created")


@route(router, "/m/{module}/{record_id}/edit")
def edit_form(ctx: Ctx, module: str, record_id: str) -> Response:
    mod = _module(ctx, module, "edit")
    record = _record(ctx, mod, record_id)
    typed = typed_from_record(record, editable(field_views(mod)))
    return _form(ctx, mod, record=record, typed=typed)


@route(router, "/m/{module}/{record_id}/edit", ("POST",))
def update(ctx: Ctx, module: str, record_id: str) -> Response:
    viewer = ctx.viewer
    mod = _module(ctx, module, "edit")
    record = _record(ctx, mod, record_id)
    fields = editable(field_views(mod))
    typed = typed_from_form(ctx, fields)
    row = row_from_typed(typed, fields, ctx.crm.tz, creating=False)
    since = _aware(ctx.value("modified"))
    result = ctx.crm.records.update(
        mod.api_name, [row], record_id=record["id"], actor=_actor(viewer), unmodified_since=since
    )[0]
    if result.get("status") != "success":
        errors = errors_from_row(result, fields, mod)
        return _form(ctx, mod, record=record, typed=typed, errors=errors, status=422)
    return ctx.redirect(f"/m/{mod.api_name}/{record['id']}?done=saved")


def _aware(text: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else None


# ---------------------------------------------------------------------------------- notes, delete


@route(router, "/m/{module}/{record_id}/notes", ("POST",))
def add_note(ctx: Ctx, module: str, record_id: str) -> Response:
    viewer = ctx.viewer
    mod = _module(ctx, module)
    record = _record(ctx, mod, record_id)
    if not viewer.can("Notes", "create"):
        raise Forbidden(f"Your profile ({viewer.profile.name}) cannot create notes.")
    row = {
        "Note_Title": ctx.value("Note_Title").strip() or None,
        "Note_Content": ctx.value("Note_Content"),
        "Parent_Id": record["id"],
        "$se_module": mod.api_name,
    }
    result = ctx.crm.records.create("Notes", [row], actor=_actor(viewer))[0]
    if result.get("status") != "success":
        message = errors_from_row(result, field_views(ctx.crm.metadata.module("Notes")), mod)
        raise _NoteRefused(" ".join(message.summary))
    return ctx.redirect(f"/m/{mod.api_name}/{record['id']}?done=note")


class _NoteRefused(Forbidden):
    pass


@route(router, "/m/{module}/{record_id}/delete")
def delete_confirm(ctx: Ctx, module: str, record_id: str) -> Response:
    mod = _module(ctx, module, "delete")
    record = _record(ctx, mod, record_id)
    return ctx.render(
        "records/delete.html",
        mod=mod,
        label=plural(mod),
        singular=singular(mod),
        record=record,
        title=_title(record, mod),
    )


@route(router, "/m/{module}/{record_id}/delete", ("POST",))
def delete(ctx: Ctx, module: str, record_id: str) -> Response:
    viewer = ctx.viewer
    mod = _module(ctx, module, "delete")
    record = _record(ctx, mod, record_id)
    ctx.crm.records.delete(mod.api_name, [record["id"]], actor=_actor(viewer))
    return ctx.redirect(f"/m/{mod.api_name}?done=deleted")
