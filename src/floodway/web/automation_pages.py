"""Automation pages (console-ux.md §3.8–3.10): workflow rules with their builder, buttons, related
lists, validation rules and schedules.

Every route needs ``manage_workflow`` (security.md AZ-1). Definitions go through the rule store
(``app.state.automation.store``, docs/automation-service-api.md §2.1), which validates them as
``floodway deploy`` does; a refused save comes back with every typed value and each message next
to its input (status 422). Buttons in the forms (``op``) add or remove rows and re-render the
form without saving, so the builder works without JavaScript.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import APIRouter
from starlette.responses import Response

from . import automation_forms as af
from .http import Ctx, NotFound, route
from .record_forms import plural, singular

log = logging.getLogger("floodway.web")
router = APIRouter()

PAGE: Final = "Automation"
HIDDEN_MODULES: Final = frozenset({"Notes", "Attachments"})


@dataclass(frozen=True)
class Kind:
    kind: str  # store kind
    path: str  # URL segment
    title: str  # plural heading
    label: str  # singular, lower case
    category: str  # function category it attaches
    toml: str  # manifest table
    about: str  # empty-state sentence


KINDS: Final = {
    k.path: k
    for k in (
        Kind(
            "workflow",
            "rules",
            "Workflow rules",
            "workflow rule",
            "automation",
            "workflow",
            "Rules run functions and other actions when records change.",
        ),
        Kind(
            "button",
            "buttons",
            "Buttons",
            "button",
            "button",
            "button",
            "Buttons run a function from a record page or for the records selected in a list.",
        ),
        Kind(
            "related_list",
            "related-lists",
            "Related lists",
            "related list",
            "related_list",
            "related_list",
            "Related lists show a table a function returns on a record's page.",
        ),
        Kind(
            "validation",
            "validation",
            "Validation rules",
            "validation rule",
            "validation",
            "validation",
            "Validation rules run a function before a record is saved and can block the save.",
        ),
        Kind(
            "schedule",
            "schedules",
            "Schedules",
            "schedule",
            "schedule",
            "schedule",
            "Schedules run a function at set times (cron or every/daily/weekly/monthly/once).",
        ),
    )
}
# Kinds whose order per module is their run order (the list offers to move them).
ORDERED_KINDS: Final = ("workflow", "validation")
TOASTS: Final = {
    "started": "Run started; it is recorded in the executions log",
    "moved": "Order changed",
    "saved": "Saved",
    "created": "Created",
    "deleted": "Deleted",
    "enabled": "Enabled",
    "disabled": "Disabled",
}


# ---------------------------------------------------------------------------------- helpers


def _store(ctx: Ctx) -> Any:
    ctx.viewer.require("manage_workflow", PAGE)
    from floodway.api.automation import store

    return store(ctx.request)


def _kind(path: str) -> Kind:
    found = KINDS.get(path)
    if found is None:
        raise NotFound("There is no automation page at this address.")
    return found


def _item(store: Any, kind: Kind, item_id: str) -> Any:
    from floodway.automation.errors import AutomationError

    try:
        return store.get(kind.kind, item_id)
    except AutomationError:
        raise NotFound(
            f"No {kind.label} with id {item_id[:40]} — it may have been deleted."
        ) from None


def modules(ctx: Ctx) -> list[Any]:
    mods = [m for m in ctx.crm.metadata.modules() if m.api_name not in HIDDEN_MODULES]
    return sorted(mods, key=lambda m: (bool(m.custom), m.sequence_number))


def module_fields(ctx: Ctx, module: str) -> list[dict[str, Any]]:
    """Fields of a module for selects: api name, label, type (system fields included)."""
    mod = ctx.crm.metadata.find(module) if module else None
    if mod is None:
        return []
    out: list[dict[str, Any]] = [
        {
            "api_name": f.api_name,
            "label": f.display_label,
            "type": f.type,
            "picks": [p for p in f.pick_list_values if p != "-None-"],
        }
        for f in mod.fields.values()
    ]
    have = {f["api_name"] for f in out}
    for name, ftype in (
        ("Owner", "ownerlookup"),
        ("Created_Time", "datetime"),
        ("Modified_Time", "datetime"),
    ):
        if name not in have:
            out.append(
                {"api_name": name, "label": name.replace("_", " "), "type": ftype, "picks": []}
            )
    return sorted(out, key=lambda f: f["label"].lower())


def condition_fields(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Criteria can also name a lookup's ``.id``/``.name`` and the owner's ``.email``."""
    out = []
    for f in fields:
        out.append(f)
        if f["type"] in ("lookup", "ownerlookup"):
            for sub in ("id", "name", *(("email",) if f["type"] == "ownerlookup" else ())):
                out.append(
                    {
                        "api_name": f"{f['api_name']}.{sub}",
                        "label": f"{f['label']} › {sub}",
                        "type": "text" if sub != "id" else "bigint",
                        "picks": [],
                    }
                )
    return out


def merge_fields(ctx: Ctx, module: str, *, list_button: bool = False) -> list[tuple[str, str]]:
    """``${Module.Field}`` choices (value, label) for argument inputs (project-format.md)."""
    mod = ctx.crm.metadata.find(module) if module else None
    out: list[tuple[str, str]] = []
    if list_button:
        out.append(("${selected_ids}", "Selected record ids"))
    if mod is None:
        return out
    m = mod.api_name
    out.append((f"${{{m}.id}}", f"{m} › id"))
    for f in module_fields(ctx, m):
        name, label = f["api_name"], f["label"]
        if f["type"] == "lookup":
            out.append((f"${{{m}.{name}.id}}", f"{label} › id"))
            out.append((f"${{{m}.{name}.name}}", f"{label} › name"))
        elif f["type"] == "ownerlookup":
            for sub in ("id", "name", "email"):
                out.append((f"${{{m}.{name}.{sub}}}", f"{label} › {sub}"))
        else:
            out.append((f"${{{m}.{name}}}", f"{label} ({f['type']})"))
    out.append(("${org.time_zone}", "Org › time zone"))
    return out


def function_choices(ctx: Ctx, category: str) -> list[dict[str, Any]]:
    """Functions for a use: usable ones first; others greyed with the reason."""
    out = []
    for info in ctx.functions.registry.list():
        reason = None
        if info.category != category:
            reason = f"{info.category} function — not usable here"
        elif info.live_version is None:
            reason = "not published"
        out.append(
            {
                "api_name": info.api_name,
                "label": info.display_name or info.api_name,
                "arguments": [(n, t or "") for n, t in info.arguments],
                "reason": reason,
            }
        )
    return sorted(out, key=lambda f: (f["reason"] is not None, f["api_name"].lower()))


def _signature(choices: list[dict[str, Any]], api_name: str) -> list[tuple[str, str]]:
    low = api_name.lower()
    for c in choices:
        if c["api_name"].lower() == low:
            return list(c["arguments"])
    return []


def arg_rows(
    signature: list[tuple[str, str]], values: dict[str, str]
) -> list[tuple[str, str, str]]:
    """(name, type, value) for the function's arguments, then any typed names it lacks (so a
    stale mapping is shown and can be cleared rather than silently dropped)."""
    rows = [(n, t, values.get(n, "")) for n, t in signature]
    known = {n for n, _ in signature}
    rows.extend((n, "?", v) for n, v in values.items() if n not in known and v)
    return rows


def _toast(ctx: Ctx) -> str | None:
    return TOASTS.get(ctx.value("done"))


def _unexpected(exc: Exception) -> bool:
    return exc.__class__.__name__ not in ("AutomationError", "FunctionsError")


# ---------------------------------------------------------------------------------- lists


@route(router, "/automation")
def automation_home(ctx: Ctx) -> Response:
    _store(ctx)
    return ctx.redirect("/automation/rules")


@route(router, "/automation/{path}")
def item_list(ctx: Ctx, path: str) -> Response:
    kind = _kind(path)
    store = _store(ctx)
    module = ctx.value("module")
    found = ctx.crm.metadata.find(module) if module and kind.kind != "schedule" else None
    items = store.list(kind.kind, module=found.api_name if found else None)
    rows = []
    tz = ctx.crm.time_zone_name
    for item in items:
        row: dict[str, Any] = {"item": item, "d": item.definition}
        if kind.kind == "schedule":
            row["next"] = _next_runs(item, ctx, 1)
            row["timing"] = _timing_words(item.definition, tz)
        if kind.kind == "workflow":
            row["summary"] = describe_rule(af.rule_from_definition(item.definition))
        rows.append(row)
    return ctx.render(
        "automation/list.html",
        kind=kind,
        kinds=list(KINDS.values()),
        rows=rows,
        module=found.api_name if found else "",
        modules=modules(ctx),
        toast=_toast(ctx),
        movable=kind.kind in ORDERED_KINDS and found is not None and len(rows) > 1,
        ordered=kind.kind in ORDERED_KINDS,
    )


def _next_runs(item: Any, ctx: Ctx, n: int) -> list[str]:
    if not item.enabled or item.spec is None:
        return []
    try:
        return list(item.next_runs(ctx.crm.clock(), ctx.crm.time_zone_name, n))
    except Exception:  # a stored definition the current zone data cannot plan
        log.exception("next runs of schedule %s", item.id)
        return []


def _timing_words(d: dict[str, Any], org_tz: str) -> str:
    zone = d.get("timezone") or org_tz
    for key, label in af.SCHEDULE_KINDS:
        if key in d:
            return f"{label} {d[key]} · {zone}"
    return ""


@route(router, "/automation/{path}/{item_id}/{action}", ("POST",))
def item_action(ctx: Ctx, path: str, item_id: str, action: str) -> Response:
    kind = _kind(path)
    store = _store(ctx)
    item = _item(store, kind, item_id)
    back = f"/automation/{kind.path}"
    if item.module:
        back += f"?module={item.module}&"
    else:
        back += "?"
    if action in ("enable", "disable"):
        store.set_enabled(kind.kind, item.id, action == "enable")
        return ctx.redirect(back + f"done={action}d")
    if action == "delete":
        store.delete(kind.kind, item.id)
        return ctx.redirect(back + "done=deleted")
    if action in ("up", "down") and kind.kind in ORDERED_KINDS:
        store.move(kind.kind, item.id, -1 if action == "up" else 1)
        return ctx.redirect(f"/automation/{kind.path}?module={item.module}&done=moved")
    if action == "test" and kind.kind == "validation":
        return _validation_test(ctx, item)
    schedules = getattr(ctx.automation, "schedules", None)
    if action == "run" and kind.kind == "schedule" and schedules is not None:
        from floodway.automation.errors import AutomationError

        try:
            eid = schedules.run_now(item.id, ctx.viewer.user.id)
        except AutomationError as exc:
            errors = af.Errors()
            errors.add("function", exc.message)
            form = af.item_from_definition(kind.kind, item.definition, item.enabled)
            return _simple_page(ctx, kind, form, item, errors=errors, status=422)
        if ctx.viewer.has("manage_functions"):  # the executions log is theirs to open
            function = item.definition.get("function", "")
            return ctx.redirect(f"/executions?function={function}&started={eid}")
        return ctx.redirect(f"/automation/schedules/{item.id}?done=started")
    raise NotFound("There is no such action.")


# ---------------------------------------------------------------------------------- previews


@route(router, "/automation/{path}/{item_id}/preview")
def related_list_preview(ctx: Ctx, path: str, item_id: str) -> Response:
    """ "Preview with a record" (htmx): the related list run for one record, as its page would
    show it, with the function's raw answer and the duration."""
    from floodway.automation.errors import AutomationError

    from .automation_hooks import _table
    from .execution_queries import record_id_of

    kind = _kind(path)
    if kind.kind != "related_list":
        raise NotFound("Only related lists have a preview.")
    item = _item(_store(ctx), kind, item_id)
    record_id = record_id_of(ctx.value("record"))
    out: dict[str, Any] = {"kind": "related_list", "record_id": record_id}
    if not record_id:
        out["problem"] = f"Enter the id of a {item.module} record, or paste its address."
        return ctx.render("automation/_preview.html", p=out)
    if not ctx.viewer.can(item.module, "read"):
        out["problem"] = f"Your profile cannot open {item.module} records."
        return ctx.render("automation/_preview.html", p=out)
    try:
        result = ctx.automation.related_lists.run(
            item.id, item.module, record_id, ctx.viewer.user.id
        )
    except AutomationError as exc:
        out["problem"] = exc.message
        return ctx.render("automation/_preview.html", p=out)
    out["table"] = _table(result)
    out.update(_execution_facts(ctx, result.get("execution_id")))
    return ctx.render("automation/_preview.html", p=out)


def _validation_test(ctx: Ctx, item: Any) -> Response:
    """ "Test with a record" (htmx): would the rule allow saving these values?"""
    import json

    from floodway.automation.errors import AutomationError
    from floodway.crm import Actor, CrmError

    from .execution_queries import record_id_of

    out: dict[str, Any] = {"kind": "validation"}
    module = item.module
    typed = ctx.value("record").strip()
    record_id = record_id_of(typed) or None
    if typed and record_id is None:
        out["problem"] = f"“{typed[:60]}” is not a record id or a record's address."
        return ctx.render("automation/_preview.html", p=out)
    text = ctx.value("values").strip()
    try:
        values = json.loads(text) if text else {}
    except json.JSONDecodeError as exc:
        out["problem"] = f"Values: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        return ctx.render("automation/_preview.html", p=out)
    if not isinstance(values, dict):
        out["problem"] = 'Values: give an object of field values, such as {"Amount": 5000}.'
        return ctx.render("automation/_preview.html", p=out)
    if record_id is not None:
        if not ctx.viewer.can(module, "read"):
            out["problem"] = f"Your profile cannot open {module} records."
            return ctx.render("automation/_preview.html", p=out)
        if ctx.crm.records.get(module, record_id) is None:
            out["problem"] = f"There is no {module} record with id {record_id}."
            return ctx.render("automation/_preview.html", p=out)
    actor = Actor(ctx.viewer.user.id, "ui", workflow=False)
    try:
        write = ctx.crm.records.planned(module, values, actor=actor, record_id=record_id)
    except CrmError as exc:  # the module is gone
        out["problem"] = exc.message
        return ctx.render("automation/_preview.html", p=out)
    if write is None:
        out["problem"] = (
            "A save of these values would be refused before the rule runs: a value does not "
            "fit its field, or a mandatory field is missing."
        )
        return ctx.render("automation/_preview.html", p=out)
    try:
        verdict = ctx.automation.validations.test(item.id, write, actor)
    except AutomationError as exc:
        out["problem"] = exc.message
        return ctx.render("automation/_preview.html", p=out)
    out.update(verdict)
    out.update(_execution_facts(ctx, verdict.get("execution_id")))
    return ctx.render("automation/_preview.html", p=out)


def _execution_facts(ctx: Ctx, execution_id: Any) -> dict[str, Any]:
    if not execution_id:
        return {}
    run = ctx.functions.executions.get(str(execution_id))
    if run is None:
        return {}
    return {
        "execution_id": str(execution_id),
        "duration_ms": run.get("duration_ms"),
        "raw": run.get("output_text"),
    }


# ---------------------------------------------------------------------------------- workflow rules


@route(router, "/automation/rules/new")
def rule_new(ctx: Ctx) -> Response:
    _store(ctx)
    module = ctx.value("module") or "Deals"
    found = ctx.crm.metadata.find(module)
    rule = af.RuleForm(module=found.api_name if found else "Deals")
    rule.actions.append(af.new_action("function"))
    return _rule_page(ctx, rule, None)


@route(router, "/automation/rules/new", ("POST",))
def rule_create(ctx: Ctx) -> Response:
    store = _store(ctx)
    return _rule_post(ctx, store, None)


@route(router, "/automation/rules/{item_id}")
def rule_edit(ctx: Ctx, item_id: str) -> Response:
    store = _store(ctx)
    item = _item(store, KINDS["rules"], item_id)
    rule = af.rule_from_definition(item.definition, item.enabled)
    return _rule_page(ctx, rule, item)


@route(router, "/automation/rules/{item_id}", ("POST",))
def rule_update(ctx: Ctx, item_id: str) -> Response:
    store = _store(ctx)
    item = _item(store, KINDS["rules"], item_id)
    return _rule_post(ctx, store, item)


def _rule_post(ctx: Ctx, store: Any, item: Any) -> Response:
    rule = af.rule_from_form(ctx)
    op = ctx.value("op") or "save"
    errors = af.Errors()
    if op == "test_criteria":
        test = criteria_test(ctx, rule.module, rule.criteria, errors)
        return _rule_page(
            ctx, rule, item, errors=errors, status=422 if errors else 200, criteria_test=test
        )
    if op != "save":
        _apply_op(rule, op, errors)
        return _rule_page(ctx, rule, item, errors=errors, status=422 if errors else 200)
    table = af.rule_table(rule)
    try:
        if item is None:
            saved = store.create("workflow", table, enabled=rule.enabled)
        else:
            saved = store.update("workflow", item.id, table)
            if saved.enabled != rule.enabled:
                saved = store.set_enabled("workflow", item.id, rule.enabled)
    except Exception as exc:
        if _unexpected(exc):
            raise
        return _rule_page(ctx, rule, item, errors=af.errors_from(exc), status=422)
    done = "created" if item is None else "saved"
    return ctx.redirect(f"/automation/rules?module={saved.module}&done={done}")


TEST_CAP: Final = 10_000
TEST_EXAMPLES: Final = 5


def criteria_test(
    ctx: Ctx, module: str, criteria: str | None, errors: af.Errors
) -> dict[str, Any] | None:
    """ "Test criteria": how many records match the rule's condition now, with a few of them
    (names only when the user may read the module). None with an error when it cannot run."""
    from floodway.crm import CrmError

    found = ctx.crm.metadata.find(module)
    if found is None:
        errors.add("module", f"There is no module named {module}.")
        return None
    try:
        count = ctx.crm.records.count(found.api_name, criteria=criteria, cap=TEST_CAP)
        examples: list[dict[str, str]] = []
        if count and ctx.viewer.can(found.api_name, "read"):
            if criteria:
                page = ctx.crm.records.search(
                    found.api_name, criteria=criteria, per_page=TEST_EXAMPLES
                )
            else:
                page = ctx.crm.records.list(found.api_name, per_page=TEST_EXAMPLES)
            name_field = found.name_field
            examples = [
                {"id": r["id"], "name": str(r.get(name_field) or r["id"])} for r in page.data
            ]
    except CrmError as exc:
        errors.add("criteria", _criteria_problem(exc))
        return None
    return {
        "count": count,
        "at_least": count >= TEST_CAP,
        "examples": examples,
        "module": found.api_name,
        "label": (plural(found) if count != 1 else singular(found)).lower(),
    }


def _criteria_problem(exc: Exception) -> str:
    details = getattr(exc, "details", None) or {}
    reason = details.get("reason") or getattr(exc, "message", "") or str(exc)
    named = " ".join(str(details[k]) for k in ("api_name", "operator") if details.get(k))
    return f"The criteria cannot be tested: {named + ': ' if named else ''}{reason}"


def _apply_op(rule: af.RuleForm, op: str, errors: af.Errors) -> None:
    name, _, arg = op.partition(":")
    index = int(arg) if arg.isdigit() else -1
    if name == "add_cond" and len(rule.conds) < af.MAX_CONDITIONS:
        rule.conds.append(af.Cond())
        rule.criteria_mode = "rows"
    elif name == "del_cond" and 0 <= index < len(rule.conds):
        del rule.conds[index]
    elif name == "add_action" and len(rule.actions) < af.MAX_ACTIONS:
        rule.actions.append(af.new_action(arg))
    elif name == "del_action" and 0 <= index < len(rule.actions):
        del rule.actions[index]
    elif name == "add_update" and 0 <= index < len(rule.actions):
        rule.actions[index].updates.append(("", ""))
    elif name == "add_task_field" and 0 <= index < len(rule.actions):
        rule.actions[index].task.append(("", ""))
    elif name == "text_to_rows":
        rows = af.rows_from_criteria(rule.criteria_text.strip())
        if rows is None:
            errors.add(
                "criteria",
                "This criteria cannot be shown as rows (it does not parse, or it nests groups); "
                "keep editing it as text.",
            )
        else:
            rule.conds, rule.criteria_mode = rows, "rows"
    elif name == "rows_to_text":
        rule.criteria_text = af.criteria_from_rows(rule.conds) or ""
        rule.criteria_mode = "text"


def _rule_page(
    ctx: Ctx,
    rule: af.RuleForm,
    item: Any,
    *,
    errors: af.Errors | None = None,
    status: int = 200,
    criteria_test: dict[str, Any] | None = None,
) -> Response:
    from floodway.project.toml_writer import dump_trigger_tables

    fields = module_fields(ctx, rule.module)
    functions = function_choices(ctx, "automation")
    actions = []
    for a in rule.actions:
        actions.append({"a": a, "args": arg_rows(_signature(functions, a.function), a.args)})
    try:
        toml = dump_trigger_tables({"workflow": [af.rule_table(rule)]})
    except Exception:
        toml = ""
    activity: list[dict[str, Any]] = []
    auto = ctx.automation
    if item is not None and auto is not None and getattr(auto, "engine", None) is not None:
        try:
            activity = auto.engine.activity(rule_id=item.id, limit=20)
        except Exception:
            log.exception("activity of rule %s", item.id)
    return ctx.render(
        "automation/rule_form.html",
        status=status,
        kind=KINDS["rules"],
        kinds=list(KINDS.values()),
        item=item,
        rule=rule,
        errors=errors or af.Errors(),
        modules=modules(ctx),
        fields=fields,
        cond_fields=condition_fields(fields),
        field_types={f["api_name"]: f["type"] for f in condition_fields(fields)},
        operators=af.OPERATORS,
        ops_by_type=af.OPERATORS_BY_TYPE,
        triggers=af.TRIGGERS,
        action_kinds=af.ACTION_KINDS,
        functions=functions,
        actions=actions,
        merge=merge_fields(ctx, rule.module),
        task_fields=module_fields(ctx, "Tasks"),
        criteria=rule.criteria,
        sentence=describe_rule(rule),
        toml=toml,
        activity=activity,
        criteria_test=criteria_test,
    )


def describe_rule(rule: af.RuleForm) -> str:
    """The rule in one sentence, as the builder's header shows it."""
    on = {
        "create": "is created",
        "edit": "is edited",
        "create_or_edit": "is created or edited",
        "field_update": "has " + (", ".join(rule.fields) or "a field") + " updated",
        "delete": "is deleted",
        "date": f"reaches {rule.date_field or 'a date'} {rule.offset or ''}".rstrip(),
    }.get(rule.on, "changes")
    text = f"When a {rule.module or 'record'} record {on}"
    crit = rule.criteria
    if crit:
        text += f" and matches {crit}"
    parts = []
    for a in rule.actions:
        if a.kind == "function":
            args = ", ".join(f"{k} = {v}" for k, v in a.args.items() if v)
            what = f"run {a.function or '…'}({args})"
        elif a.kind == "field_update":
            what = "set " + ", ".join(f"{f} to '{v}'" for f, v in a.updates if f)
        elif a.kind == "webhook":
            what = f"call {a.method} {a.url or '…'}"
        elif a.kind == "email":
            what = f"email {a.to or '…'}"
        else:
            what = "create a task"
        parts.append(what + (f" after {a.after}" if a.after else ""))
    if parts:
        text += ", " + "; ".join(parts)
    return text + "."


# ---------------------------------------------------------------------------------- other kinds


@route(router, "/automation/schedules/next-runs")
def schedule_next_runs(ctx: Ctx) -> Response:
    """The next five due times of the schedule being typed (htmx, as the user edits)."""
    ctx.viewer.require("manage_workflow", PAGE)
    form = af.item_from_form(ctx, "schedule")
    return ctx.render("automation/_next_runs.html", runs=next_runs_preview(ctx, form))


@dataclass
class NextRuns:
    """The next run times shown under a schedule's timing, or why there are none, with what
    daylight saving does to them."""

    times: list[dict[str, str]]
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def next_runs_preview(ctx: Ctx, form: af.ItemForm) -> NextRuns:
    from floodway.project.cron import ScheduleError, parse_timing, zone

    if not form.expression:
        return NextRuns([], f"Enter {af.SCHEDULE_HINTS[form.timing]}.")
    zone_name = form.timezone or ctx.crm.time_zone_name
    try:
        tz = zone(zone_name)
    except ValueError as exc:
        return NextRuns([], f"Time zone: {exc}")
    try:
        timing = parse_timing(form.timing, form.expression, tz)
    except ScheduleError as exc:
        return NextRuns([], f"{form.timing}: {exc}")
    now = ctx.crm.clock()
    after = now if now.tzinfo is not None else now.replace(tzinfo=_dt.UTC)
    org = zone(ctx.crm.time_zone_name)
    due = timing.next_times(after, 5, tz)
    out = []
    for t in due:
        local = t.astimezone(tz)
        row = {
            "iso": t.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "local": local.strftime("%a %Y-%m-%d %H:%M %Z"),
            "org": "",
        }
        if org.key != getattr(tz, "key", None):
            row["org"] = t.astimezone(org).strftime("%a %Y-%m-%d %H:%M %Z")
        out.append(row)
    notes = timing.dst_notes(after, due[-1] if due else after, tz)
    if not out:
        return NextRuns([], "This schedule has no future run times.", notes)
    return NextRuns(out, None, notes)


@route(router, "/automation/{path}/new")
def simple_new(ctx: Ctx, path: str) -> Response:
    kind = _kind(path)
    _store(ctx)
    form = af.ItemForm(kind=kind.kind)
    module = ctx.crm.metadata.find(ctx.value("module") or "Deals")
    form.module = module.api_name if module else "Deals"
    return _simple_page(ctx, kind, form, None)


@route(router, "/automation/{path}/new", ("POST",))
def simple_create(ctx: Ctx, path: str) -> Response:
    kind = _kind(path)
    return _simple_post(ctx, kind, _store(ctx), None)


@route(router, "/automation/{path}/{item_id}")
def simple_edit(ctx: Ctx, path: str, item_id: str) -> Response:
    kind = _kind(path)
    store = _store(ctx)
    item = _item(store, kind, item_id)
    form = af.item_from_definition(kind.kind, item.definition, item.enabled)
    return _simple_page(ctx, kind, form, item)


@route(router, "/automation/{path}/{item_id}", ("POST",))
def simple_update(ctx: Ctx, path: str, item_id: str) -> Response:
    kind = _kind(path)
    store = _store(ctx)
    return _simple_post(ctx, kind, store, _item(store, kind, item_id))


def _simple_post(ctx: Ctx, kind: Kind, store: Any, item: Any) -> Response:
    form = af.item_from_form(ctx, kind.kind)
    if (ctx.value("op") or "save") != "save":
        return _simple_page(ctx, kind, form, item)
    table = af.item_table(form)
    try:
        if item is None:
            saved = store.create(kind.kind, table, enabled=form.enabled)
        else:
            saved = store.update(kind.kind, item.id, table)
            if saved.enabled != form.enabled:
                saved = store.set_enabled(kind.kind, item.id, form.enabled)
    except Exception as exc:
        if _unexpected(exc):
            raise
        errors = af.errors_from(exc)
        if kind.kind == "schedule":
            # The store names the timing key (cron, every ...); the form has one input for it.
            for key, _label in af.SCHEDULE_KINDS:
                for message in errors.by_key.pop(key, []):
                    errors.by_key.setdefault("expression", []).append(message)
            errors.summary = [
                ("f-expression" if a[2:] in dict(af.SCHEDULE_KINDS) else a, m)
                for a, m in errors.summary
            ]
        return _simple_page(ctx, kind, form, item, errors=errors, status=422)
    back = f"/automation/{kind.path}?"
    if saved.module:
        back += f"module={saved.module}&"
    return ctx.redirect(back + ("done=created" if item is None else "done=saved"))


def _simple_page(
    ctx: Ctx,
    kind: Kind,
    form: af.ItemForm,
    item: Any,
    *,
    errors: af.Errors | None = None,
    status: int = 200,
) -> Response:
    functions = function_choices(ctx, kind.category)
    runs = next_runs_preview(ctx, form) if kind.kind == "schedule" else None
    return ctx.render(
        "automation/item_form.html",
        status=status,
        kind=kind,
        kinds=list(KINDS.values()),
        item=item,
        form=form,
        errors=errors or af.Errors(),
        modules=modules(ctx),
        functions=functions,
        args=arg_rows(_signature(functions, form.function), form.args),
        merge=merge_fields(ctx, form.module, list_button=form.placement == "list"),
        schedule_kinds=af.SCHEDULE_KINDS,
        schedule_hints=af.SCHEDULE_HINTS,
        time_zones=_time_zones() if kind.kind == "schedule" else [],
        runs=runs,
        org_tz=ctx.crm.time_zone_name,
        toast=_toast(ctx),
    )


def _time_zones() -> list[str]:
    import zoneinfo

    return sorted(zoneinfo.available_timezones())
