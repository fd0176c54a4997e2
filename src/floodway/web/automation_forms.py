"""What the automation forms post, turned into manifest tables, and back (console-ux.md §3.8–3.10).

The console never decides whether a definition is valid: it builds the ``[[workflow]]`` ...
``[[schedule]]`` table from the typed form and hands it to the rule store, which parses it with
the project readers (the same checks as ``floodway deploy``). This module only carries the typed
text there and places the store's problems (``details.field`` paths such as ``criteria`` or
``actions[1].arguments.dealId``) next to the inputs they are about.

The criteria builder writes rows of field / operator / value joined by ``and`` / ``or`` as the
criteria grammar of zoho-rest-compat.md §6, combined left to right and fully parenthesised, so
precedence is never in doubt: rows 1 or 2 and 3 become ``(((1)or(2))and(3))``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from .http import Ctx

TRIGGERS: Final = (
    ("create", "Created"),
    ("edit", "Edited"),
    ("create_or_edit", "Created or edited"),
    ("field_update", "A field is updated"),
    ("delete", "Deleted"),
    ("date", "A date is reached"),
)
ACTION_KINDS: Final = (
    ("function", "Function"),
    ("field_update", "Field update"),
    ("webhook", "Webhook"),
    ("email", "Email"),
    ("task", "Task"),
)
OPERATORS: Final = (
    ("equals", "is"),
    ("not_equal", "is not"),
    ("starts_with", "starts with"),
    ("contains", "contains"),
    ("not_contains", "does not contain"),
    ("in", "is one of"),
    ("not_in", "is none of"),
    ("greater_than", "greater than"),
    ("greater_equal", "at least"),
    ("less_than", "less than"),
    ("less_equal", "at most"),
    ("between", "between"),
)
LIST_OPERATORS: Final = frozenset({"in", "not_in", "between"})
# A hint for the operator select (the CRM's criteria checks decide; zoho-rest-compat.md §6.3).
_EQ: Final = ("equals", "not_equal", "in", "not_in")
_ORDER: Final = ("greater_than", "greater_equal", "less_than", "less_equal", "between")
_TEXT_OPS: Final = (*_EQ, "starts_with", "contains", "not_contains")
OPERATORS_BY_TYPE: Final[dict[str, tuple[str, ...]]] = {
    "textarea": ("equals", "not_equal", "starts_with", "contains", "not_contains"),
    "picklist": _EQ,
    "autonumber": _EQ,
    "multiselectpicklist": (*_EQ, "starts_with"),
    "integer": (*_EQ, *_ORDER),
    "bigint": (*_EQ, *_ORDER),
    "decimal": (*_EQ, *_ORDER),
    "double": (*_EQ, *_ORDER),
    "currency": (*_EQ, *_ORDER),
    "percent": (*_EQ, *_ORDER),
    "date": (*_EQ, *_ORDER),
    "datetime": (*_EQ, *_ORDER),
    "boolean": ("equals", "not_equal"),
    "lookup": _EQ,
    "ownerlookup": _EQ,
}
MAX_CONDITIONS: Final = 10
MAX_ACTIONS: Final = 20
MAX_ROWS: Final = 30
SCHEDULE_KINDS: Final = (
    ("cron", "Cron"),
    ("every", "Every"),
    ("daily", "Daily"),
    ("weekly", "Weekly"),
    ("monthly", "Monthly"),
    ("once", "Once"),
)
SCHEDULE_HINTS: Final = {
    "cron": "five fields: minute hour day-of-month month day-of-week, e.g. 0 2 * * *",
    "every": "an interval such as 15m, 1h or 1d",
    "daily": "a time of day, e.g. 02:00",
    "weekly": "a day and time, e.g. mon 02:00",
    "monthly": "a day of the month and time, e.g. 1 02:00",
    "once": "a local date and time, e.g. 2027-01-01T09:00",
}


# ---------------------------------------------------------------------------------- errors


@dataclass
class Errors:
    """Messages by form key (``name``, ``criteria``, ``actions[0]``, ``cond1`` ...) and the
    summary at the top, each linking to its input."""

    by_key: dict[str, list[str]] = field(default_factory=dict)
    summary: list[tuple[str, str]] = field(default_factory=list)

    def add(self, key: str | None, message: str, anchor: str | None = None) -> None:
        if key:
            self.by_key.setdefault(key, []).append(message)
        self.summary.append((anchor or (f"f-{key}" if key else "main"), message))

    def get(self, key: str) -> list[str]:
        return self.by_key.get(key, [])

    def __bool__(self) -> bool:
        return bool(self.summary)


ACTION_PATH: Final = re.compile(r"actions\[(\d+)\](?:\.(.*))?")


def errors_from(exc: Exception, *, action_key: str = "actions") -> Errors:
    """The store's ``AutomationError`` (or ``FunctionsError``) as messages by form key.

    ``actions[i].…`` paths go to the action card ``actions[i]`` with the rest of the path in
    front of the message; other paths keep their first segment (``field_update.Stage`` under the
    field-update rows, ``arguments.dealId`` under the argument).
    """
    errors = Errors()
    details = getattr(exc, "details", None) or {}
    problems = details.get("problems") if isinstance(details, dict) else None
    if not isinstance(problems, list) or not problems:
        problems = [{"field": details.get("field"), "message": getattr(exc, "message", str(exc))}]
    for p in problems:
        where = p.get("field") if isinstance(p, dict) else None
        message = str(p.get("message") if isinstance(p, dict) else p)
        if not isinstance(where, str) or not where:
            errors.add(None, _sentence(message))
            continue
        m = ACTION_PATH.fullmatch(where)
        if m:
            index, rest = int(m.group(1)), m.group(2)
            text = f"Action {index + 1}: " + (f"{rest}: {message}" if rest else message)
            errors.add(f"{action_key}[{index}]", _sentence(text), f"action-{index}")
            continue
        head = re.split(r"[.\[]", where, maxsplit=1)[0]
        text = message if head == where else f"{where.split('.', 1)[1]}: {message}"
        errors.add(head, _sentence(text) if head != where else _sentence(message))
    return errors


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


# ---------------------------------------------------------------------------------- criteria


@dataclass
class Cond:
    field: str = ""
    op: str = "equals"
    value: str = ""
    join: str = "and"  # how this row joins the rows before it


def escape_value(text: str) -> str:
    return re.sub(r"([(),])", r"\\\1", text)


def criteria_from_rows(rows: list[Cond]) -> str | None:
    """The criteria string of the filled-in rows (``None`` when there are none)."""
    used = [r for r in rows if r.field.strip()]
    if not used:
        return None
    out = _condition(used[0])
    for r in used[1:]:
        out = f"({out}{'or' if r.join == 'or' else 'and'}{_condition(r)})"
    return out


def _condition(r: Cond) -> str:
    if r.op in LIST_OPERATORS:
        parts = [escape_value(p.strip()) for p in r.value.split(",")]
        value = ",".join(parts)
    else:
        value = escape_value(r.value)
    return f"({r.field.strip()}:{r.op}:{value})"


def rows_from_criteria(text: str | None) -> list[Cond] | None:
    """Rows for a criteria string, or ``None`` when it does not parse or nests in a way rows
    joined left to right cannot show (then the text editor keeps it)."""
    if not text:
        return []
    from floodway.crm.criteria import And, Condition, CriteriaError, Or, parse_criteria

    try:
        tree = parse_criteria(text)
    except CriteriaError:
        return None

    def flat(node: Any, join: str) -> list[Cond] | None:
        if isinstance(node, Condition):
            values = ["${EMPTY}" if v is None else v for v in node.values]
            return [Cond(node.path, node.operator, ",".join(values), join)]
        word = "and" if isinstance(node, And) else "or"
        assert isinstance(node, And | Or)
        first = flat(node.items[0], join)
        if first is None:
            return None
        out = first
        for item in node.items[1:]:
            if not isinstance(item, Condition):
                return None
            more = flat(item, word)
            if more is None:
                return None
            out.extend(more)
        return out

    return flat(tree, "and")


# ---------------------------------------------------------------------------------- workflow form


@dataclass
class ActionForm:
    kind: str = "function"
    after: str = ""
    function: str = ""
    args: dict[str, str] = field(default_factory=dict)
    updates: list[tuple[str, str]] = field(default_factory=list)  # field updates
    method: str = "POST"
    url: str = ""
    headers: str = ""  # "Name: value" lines
    body: str = ""
    to: str = ""
    subject: str = ""
    task: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class RuleForm:
    name: str = ""
    module: str = "Deals"
    on: str = "create_or_edit"
    fields: list[str] = field(default_factory=list)
    repeat: str = "every_time"
    order: str = ""
    enabled: bool = True
    date_field: str = ""
    offset: str = ""
    at: str = ""
    criteria_mode: str = "all"  # all | rows | text
    conds: list[Cond] = field(default_factory=list)
    criteria_text: str = ""
    actions: list[ActionForm] = field(default_factory=list)

    @property
    def criteria(self) -> str | None:
        if self.criteria_mode == "rows":
            return criteria_from_rows(self.conds)
        if self.criteria_mode == "text":
            return self.criteria_text.strip() or None
        return None


def _numbered(ctx: Ctx, pattern: str) -> list[int]:
    """The row numbers present in the form for keys like ``c3_field`` (sorted)."""
    rx = re.compile(pattern)
    found = set()
    for key in ctx.form if ctx.form is not None else ():
        m = rx.fullmatch(key)
        if m:
            found.add(int(m.group(1)))
    return sorted(found)


def rule_from_form(ctx: Ctx) -> RuleForm:
    v = ctx.value
    rule = RuleForm(
        name=v("name").strip()[:300],
        module=v("module").strip()[:100],
        on=v("on"),
        fields=[f for f in ctx.values("fields") if f][:50],
        repeat=v("repeat") or "every_time",
        order=v("order").strip()[:10],
        enabled=v("enabled") == "on",
        date_field=v("date_field").strip()[:100],
        offset=v("offset").strip()[:20],
        at=v("at").strip()[:10],
        criteria_mode=v("criteria_mode")
        if v("criteria_mode") in ("all", "rows", "text")
        else "all",
        criteria_text=v("criteria_text")[:4000],
    )
    for i in _numbered(ctx, r"c(\d+)_field")[:MAX_CONDITIONS]:
        rule.conds.append(
            Cond(
                v(f"c{i}_field").strip()[:200],
                v(f"c{i}_op") or "equals",
                v(f"c{i}_value")[:1000],
                "or" if v(f"c{i}_join") == "or" else "and",
            )
        )
    for i in _numbered(ctx, r"a(\d+)_kind")[:MAX_ACTIONS]:
        rule.actions.append(action_from_form(ctx, f"a{i}_"))
    return rule


def action_from_form(ctx: Ctx, prefix: str) -> ActionForm:
    v = ctx.value
    a = ActionForm(
        kind=v(prefix + "kind") if v(prefix + "kind") in dict(ACTION_KINDS) else "function",
        after=v(prefix + "after").strip()[:20],
        function=v(prefix + "function").strip()[:100],
        method=v(prefix + "method") or "POST",
        url=v(prefix + "url").strip()[:2000],
        headers=v(prefix + "headers")[:4000],
        body=v(prefix + "body")[:20000],
        to=v(prefix + "to").strip()[:1000],
        subject=v(prefix + "subject")[:1000],
    )
    a.args = arguments_from_form(ctx, prefix)
    for k in _numbered(ctx, re.escape(prefix) + r"u(\d+)_field")[:MAX_ROWS]:
        a.updates.append((v(f"{prefix}u{k}_field").strip(), v(f"{prefix}u{k}_value")))
    for k in _numbered(ctx, re.escape(prefix) + r"t(\d+)_field")[:MAX_ROWS]:
        a.task.append((v(f"{prefix}t{k}_field").strip(), v(f"{prefix}t{k}_value")))
    return a


def arguments_from_form(ctx: Ctx, prefix: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if ctx.form is None:
        return out
    head = prefix + "arg_"
    for key in ctx.form:
        if key.startswith(head) and len(out) < MAX_ROWS:
            value = ctx.form.get(key)
            out[key[len(head) :]] = value if isinstance(value, str) else ""
    return out


def rule_table(rule: RuleForm) -> dict[str, Any]:
    """The ``[[workflow]]`` table of the form (empty inputs left out: the store's reader says
    what is missing)."""
    table: dict[str, Any] = {"name": rule.name, "module": rule.module, "on": rule.on}
    if rule.on in ("field_update", "edit", "create_or_edit") and rule.fields:
        table["fields"] = rule.fields
    if rule.criteria is not None:
        table["criteria"] = rule.criteria
    if rule.on in ("edit", "create_or_edit", "field_update") and rule.repeat == "first_time":
        table["repeat"] = "first_time"
    if rule.order:
        table["order"] = int(rule.order) if rule.order.isdigit() else rule.order
    if rule.on == "date":
        if rule.date_field:
            table["date_field"] = rule.date_field
        if rule.offset:
            table["offset"] = rule.offset
        if rule.at:
            table["at"] = rule.at
    table["actions"] = [action_table(a) for a in rule.actions]
    return table


def action_table(a: ActionForm) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if a.kind == "function":
        out["function"] = a.function
        args = {k: val for k, val in a.args.items() if val != ""}
        if args:
            out["arguments"] = args
    elif a.kind == "field_update":
        out["field_update"] = {f: val for f, val in a.updates if f}
    elif a.kind == "webhook":
        hook: dict[str, Any] = {"url": a.url, "method": a.method}
        headers = {}
        for line in a.headers.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip():
                headers[name.strip()] = value.strip()
        if headers:
            hook["headers"] = headers
        if a.body:
            hook["body"] = a.body
        out["webhook"] = hook
    elif a.kind == "email":
        mail = {"to": a.to, "subject": a.subject}
        if a.body:
            mail["body"] = a.body
        out["email"] = mail
    else:
        out["task"] = {f: val for f, val in a.task if f}
    if a.after:
        out["after"] = a.after
    return out


def rule_from_definition(d: dict[str, Any], enabled: bool = True) -> RuleForm:
    criteria = d.get("criteria")
    rows = rows_from_criteria(criteria) if isinstance(criteria, str) else []
    rule = RuleForm(
        name=str(d.get("name") or ""),
        module=str(d.get("module") or ""),
        on=str(d.get("on") or ""),
        fields=[str(f) for f in d.get("fields") or []],
        repeat=str(d.get("repeat") or "every_time"),
        order="" if d.get("order") is None else str(d.get("order")),
        enabled=enabled,
        date_field=str(d.get("date_field") or ""),
        offset=str(d.get("offset") or ""),
        at=str(d.get("at") or ""),
        criteria_mode="all" if not criteria else ("rows" if rows is not None else "text"),
        conds=rows or [],
        criteria_text=str(criteria or ""),
    )
    for raw in d.get("actions") or []:
        if isinstance(raw, dict):
            rule.actions.append(action_from_definition(raw))
    return rule


def action_from_definition(raw: dict[str, Any]) -> ActionForm:
    a = ActionForm(after=str(raw.get("after") or ""))
    if "function" in raw:
        a.kind = "function"
        a.function = str(raw["function"])
        a.args = {str(k): str(v) for k, v in (raw.get("arguments") or {}).items()}
    elif "field_update" in raw:
        a.kind = "field_update"
        a.updates = [(str(k), str(v)) for k, v in (raw["field_update"] or {}).items()]
    elif "webhook" in raw:
        a.kind = "webhook"
        hook = raw["webhook"] or {}
        a.url, a.method = str(hook.get("url") or ""), str(hook.get("method") or "POST")
        a.headers = "\n".join(f"{k}: {v}" for k, v in (hook.get("headers") or {}).items())
        a.body = str(hook.get("body") or "")
    elif "email" in raw:
        a.kind = "email"
        mail = raw["email"] or {}
        a.to, a.subject = str(mail.get("to") or ""), str(mail.get("subject") or "")
        a.body = str(mail.get("body") or "")
    elif "task" in raw:
        a.kind = "task"
        a.task = [(str(k), str(v)) for k, v in (raw["task"] or {}).items()]
    return a


def new_action(kind: str) -> ActionForm:
    a = ActionForm(kind=kind if kind in dict(ACTION_KINDS) else "function")
    if a.kind == "field_update":
        a.updates = [("", "")]
    if a.kind == "task":
        a.task = [("Subject", ""), ("Due_Date", "+2d")]
    return a


# ---------------------------------------------------------------------------------- simple items


@dataclass
class ItemForm:
    """Buttons, related lists, validation rules and schedules share one form."""

    kind: str
    name: str = ""
    module: str = "Deals"
    function: str = ""
    placement: str = "detail"
    args: dict[str, str] = field(default_factory=dict)
    timing: str = "cron"
    expression: str = ""
    timezone: str = ""
    catch_up: bool = False
    enabled: bool = True


def item_from_form(ctx: Ctx, kind: str) -> ItemForm:
    v = ctx.value
    timing = v("timing") if v("timing") in dict(SCHEDULE_KINDS) else "cron"
    return ItemForm(
        kind=kind,
        name=v("name").strip()[:300],
        module=v("module").strip()[:100],
        function=v("function").strip()[:100],
        placement="list" if v("placement") == "list" else "detail",
        args=arguments_from_form(ctx, ""),
        timing=timing,
        expression=v("expression").strip()[:200],
        timezone=v("timezone").strip()[:100],
        catch_up=v("catch_up") == "on",
        enabled=v("enabled") == "on",
    )


def item_table(form: ItemForm) -> dict[str, Any]:
    if form.kind == "schedule":
        table: dict[str, Any] = {"name": form.name, "function": form.function}
        table[form.timing] = form.expression
        if form.timezone:
            table["timezone"] = form.timezone
        if form.catch_up:
            table["catch_up"] = True
        return table
    table = {"name": form.name, "module": form.module, "function": form.function}
    if form.kind == "button":
        table["placement"] = form.placement
    if form.kind in ("button", "related_list"):
        args = {k: val for k, val in form.args.items() if val != ""}
        if args:
            table["arguments"] = args
    return table


def item_from_definition(kind: str, d: dict[str, Any], enabled: bool) -> ItemForm:
    form = ItemForm(
        kind=kind,
        name=str(d.get("name") or ""),
        module=str(d.get("module") or ""),
        function=str(d.get("function") or ""),
        placement=str(d.get("placement") or "detail"),
        args={str(k): str(v) for k, v in (d.get("arguments") or {}).items()},
        timezone=str(d.get("timezone") or ""),
        catch_up=bool(d.get("catch_up")),
        enabled=enabled,
    )
    for key, _label in SCHEDULE_KINDS:
        if key in d:
            form.timing, form.expression = key, str(d[key])
    return form
