"""``[[workflow]]`` rules and their ``[[workflow.actions]]`` (functions-platform.md §4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .catalog import READ_ONLY_FIELDS
from .manifest import Context, entries, module_name, unique
from .merge_fields import Template
from .model import (
    Action,
    EmailAction,
    FieldUpdateAction,
    FunctionAction,
    TaskAction,
    WebhookAction,
    Workflow,
)
from .problems import Loc
from .reader import NAME_MAX, ORDER_MAX, TableReader, one_of
from .references import Scope, criteria, field_ref, function_ref, template, templates
from .timing import Duration, Offset, parse_duration, parse_hhmm, parse_offset, parse_relative

TRIGGERS: Final = ("create", "edit", "create_or_edit", "field_update", "delete", "date")
REPEAT: Final = ("every_time", "first_time")
_FIELD_TRIGGERS: Final = ("field_update", "edit", "create_or_edit")
ACTION_KINDS: Final = ("function", "field_update", "webhook", "email", "task")
WEBHOOK_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")

# --------------------------------------------------------------------------------------------
# Workflow rules


def read_workflows(data: Mapping[str, Any], ctx: Context) -> list[Workflow]:
    allowed = (
        "name",
        "module",
        "on",
        "fields",
        "criteria",
        "repeat",
        "date_field",
        "offset",
        "at",
        "order",
        "actions",
    )
    found: list[tuple[Workflow, Loc]] = []
    for raw, loc in entries(data, "workflow", ctx):
        r = TableReader(raw, loc, ctx.problems, allowed)
        r.check_keys()
        before = len(ctx.problems)
        name = r.text("name", required=True, max_length=NAME_MAX)
        module = module_name(r, ctx)
        on = r.text("on", required=True, choices=TRIGGERS)
        repeat = r.text("repeat", choices=REPEAT) or "every_time"
        order = r.integer("order", minimum=0, maximum=ORDER_MAX)
        fields = _trigger_fields(ctx, r, module, on)
        date_field, offset, at = _date_rule(ctx, r, module, on)
        criteria_text = r.text("criteria")
        tree = criteria(ctx, r, criteria_text, module) if criteria_text is not None else None
        actions = _actions(ctx, r, raw, module, on)
        if len(ctx.problems) != before or name is None or module is None or on is None:
            continue
        found.append(
            (
                Workflow(
                    name,
                    module,
                    on,
                    tuple(actions),
                    fields or (),
                    criteria_text,
                    repeat,
                    date_field,
                    offset,
                    at,
                    order,
                    tree,
                ),
                loc,
            )
        )
    return unique(
        found,
        lambda w: f"{w.module}\x00{w.name}",
        lambda w: f'workflow "{w.name}" on {w.module}',
        ctx,
        "name",
    )


def _trigger_fields(
    ctx: Context, r: TableReader, module: str | None, on: str | None
) -> tuple[str, ...] | None:
    """``fields``: required for ``field_update``; on ``edit`` / ``create_or_edit`` (as in the
    example of project-format.md) it narrows edits to those changing one of the fields."""
    if on not in _FIELD_TRIGGERS:
        if r.has("fields") and on is not None:
            r.problem("fields", f'"fields" does not apply to on = "{on}"')
        return None
    fields = r.text_list("fields", required=on == "field_update")
    if fields is not None and module is not None:
        out = []
        for f in fields:
            found = field_ref(ctx, r, "fields", module, f)
            out.append(found[0] if found else f)
        return tuple(out)
    return fields


def _date_rule(
    ctx: Context, r: TableReader, module: str | None, on: str | None
) -> tuple[str | None, Offset | None, Any]:
    if on != "date":
        for k in ("date_field", "offset", "at"):
            if r.has(k):
                r.problem(k, f'"{k}" only applies to on = "date"')
        return None, None, None
    date_field = r.api_name("date_field", what="field API name")
    ftype = None
    if date_field is not None and module is not None:
        found = field_ref(ctx, r, "date_field", module, date_field)
        if found is not None:
            date_field, ftype = found
            if ftype is not None and ftype not in ("date", "datetime"):
                r.problem(
                    "date_field",
                    f'"{date_field}" is a {ftype} field; date rules need a date or datetime field',
                )
    offset = Offset(0, "d")
    text = r.text("offset")
    if text is not None:
        try:
            offset = parse_offset(text)
        except ValueError as exc:
            r.problem("offset", str(exc))
    at = None
    at_text = r.text("at")
    if at_text is not None:
        try:
            at = parse_hhmm(at_text)
        except ValueError as exc:
            r.problem("at", str(exc))
        if ftype == "datetime":
            r.problem("at", f'"at" applies to date fields only; "{date_field}" is a datetime field')
    return date_field, offset, at


def _actions(
    ctx: Context, r: TableReader, raw: Mapping[str, Any], module: str | None, on: str | None
) -> list[Action]:
    items = raw.get("actions")
    if items is None:
        r.problem("actions", "a workflow needs at least one action ([[workflow.actions]])")
        return []
    if not isinstance(items, list) or not all(isinstance(a, Mapping) for a in items):
        r.problem("actions", "must be an array of tables ([[workflow.actions]])")
        return []
    if not items:
        r.problem("actions", "a workflow needs at least one action ([[workflow.actions]])")
    scope = Scope(module, "workflow")
    out = []
    for i, item in enumerate(items, start=1):
        ar = TableReader(
            item,
            r.loc.child("workflow.actions", i),
            ctx.problems,
            ("after", "arguments", *ACTION_KINDS),
        )
        ar.check_keys()
        action = _action(ctx, ar, item, scope, on)
        if action is not None:
            out.append(action)
    return out


def _action(
    ctx: Context, r: TableReader, raw: Mapping[str, Any], scope: Scope, on: str | None
) -> Action | None:
    """One ``[[workflow.actions]]`` table; every problem in it is reported, then ``None``."""
    before = len(ctx.problems)
    action = _action_kind(ctx, r, raw, scope, on)
    return action if len(ctx.problems) == before else None


def _action_kind(
    ctx: Context, r: TableReader, raw: Mapping[str, Any], scope: Scope, on: str | None
) -> Action | None:
    kinds = [k for k in ACTION_KINDS if k in raw]
    if not kinds:
        r.problem(None, f"an action needs one of: {one_of(ACTION_KINDS)}")
        return None
    if len(kinds) > 1:
        r.problem(None, f"an action has exactly one kind; found {' and '.join(kinds)}")
        return None
    kind = kinds[0]
    after: Duration | None = None
    after_text = r.text("after")
    if after_text is not None:
        try:
            after = parse_duration(after_text)
        except ValueError as exc:
            r.problem("after", str(exc))
        if on == "delete":
            r.problem(
                "after", "scheduled actions are not possible on delete rules (the record is gone)"
            )
    if kind != "function" and r.has("arguments"):
        r.problem("arguments", '"arguments" only applies to function actions')
    if kind == "function":
        args_text = r.text_map("arguments")
        function = function_ref(ctx, r, "function", "automation", args_text)
        args = templates(ctx, r, "arguments", args_text or {}, scope)
        if function is None or args is None:
            return None
        return FunctionAction(function, args, after)
    if kind == "field_update":
        if on == "delete":
            r.problem("field_update", "field updates are not possible on delete rules")
            return None
        values = r.text_map("field_update")
        if values is None:
            return None
        if not values:
            r.problem("field_update", "must name at least one field")
            return None
        before = len(ctx.problems)
        for name in values:
            if name.lower() in READ_ONLY_FIELDS:
                r.problem(f"field_update.{name}", f'"{name}" cannot be updated')
            elif scope.module is not None:
                field_ref(ctx, r, f"field_update.{name}", scope.module, name)
        mapped = templates(ctx, r, "field_update", values, scope)
        if mapped is None or len(ctx.problems) != before:
            return None
        return FieldUpdateAction(mapped, after)
    if kind == "webhook":
        return _webhook(ctx, r, scope, after)
    if kind == "email":
        return _email(ctx, r, scope, after)
    return _task(ctx, r, scope, after)


def _email(ctx: Context, r: TableReader, scope: Scope, after: Duration | None) -> Action | None:
    er = r.sub("email", ("to", "subject", "body"))
    if er is None:
        return None
    before = len(ctx.problems)
    parts: dict[str, Template | None] = {}
    for key in ("to", "subject", "body"):
        text = er.text(key, required=key != "body", nonempty=key != "body")
        parts[key] = template(ctx, er, key, text, scope) if text is not None else None
    to, subject = parts["to"], parts["subject"]
    if len(ctx.problems) != before or to is None or subject is None:
        return None
    return EmailAction(to, subject, parts["body"], after)


def _webhook(ctx: Context, r: TableReader, scope: Scope, after: Duration | None) -> Action | None:
    wr = r.sub("webhook", ("url", "method", "headers", "body"))
    if wr is None:
        return None
    before = len(ctx.problems)
    url_text = wr.text("url", required=True)
    url = template(ctx, wr, "url", url_text, scope) if url_text is not None else None
    if url is not None:
        head = url.parts[0]
        if not isinstance(head, str) or not head.lower().startswith(("http://", "https://")):
            wr.problem("url", "must start with http:// or https://")
    method = "POST"
    method_text = wr.text("method")
    if method_text is not None:
        if method_text.upper() in WEBHOOK_METHODS:
            method = method_text.upper()
        else:
            wr.problem(
                "method",
                f'unknown value "{method_text}"; expected one of: {one_of(WEBHOOK_METHODS)}',
            )
    headers = templates(ctx, wr, "headers", wr.text_map("headers"), scope) or {}
    body_text = wr.text("body", nonempty=False)
    body = template(ctx, wr, "body", body_text, scope) if body_text is not None else None
    if len(ctx.problems) != before or url is None:
        return None
    return WebhookAction(url, method, headers, body, body is not None and body.is_json(), after)


def _task(ctx: Context, r: TableReader, scope: Scope, after: Duration | None) -> Action | None:
    values = r.text_map("task")
    if values is None:
        return None
    before = len(ctx.problems)
    if not any(k.lower() == "subject" for k in values):
        r.problem("task", 'a task needs a "Subject"')
    out: dict[str, Template | Offset] = {}
    for name, text in values.items():
        key = f"task.{name}"
        found = field_ref(ctx, r, key, "Tasks", name)
        ftype = found[1] if found else None
        rel = parse_relative(text)
        if rel is not None and ftype in (None, "date", "datetime"):
            if ftype == "date" and rel.unit in ("m", "h"):
                r.problem(key, f'"{text}" on the date field {name}: use days or weeks')
            out[name] = rel
            continue
        tpl = template(ctx, r, key, text, scope)
        if tpl is not None:
            out[name] = tpl
    return TaskAction(out, after) if len(ctx.problems) == before else None
