"""Functions pages (console-ux.md §3.6, §3.7): the list, "New function", and the editor with
Run, Save draft and Publish.

The editor page is a plain form around a ``<textarea name="source">`` that the CodeMirror bundle
(``static/vendor/editor.js``, built from ``web/editor/``) turns into the code pane; without
script the textarea is the editor and every button still works. Its three actions post the
buffer:

- **Run** runs the buffer with the test arguments: the stored version when the buffer equals
  it, else the unsaved source through ``executor.run_source``, both as ``manual`` executions.
  A buffer that does not compile is not run; its error comes back at its line.
- **Save draft** adds a draft version (``registry.save``; none when nothing changed).
- **Publish** saves pending changes, then makes the newest version live.

htmx requests get fragments (always 200, so htmx swaps them; the outcome is in the fragment, with
``data-error-line`` for the editor to mark), plain posts get the page or a redirect. Every route
needs ``manage_functions`` (security.md AZ-1, AZ-5); history, rollback and REST settings are in
``function_history`` and ``function_settings``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from fastapi import APIRouter
from starlette.responses import Response

from . import execution_queries as eq
from .http import Ctx, NotFound, allow_style_nonce, new_style_nonce, route
from .record_forms import combined_criteria

router = APIRouter()

PAGE: Final = "Functions"
JSON_TYPES: Final = frozenset({"map", "list", "collection"})
ARG_ROWS: Final = 6  # argument rows on the "New function" form
ARG_TYPES: Final = ("string", "int", "decimal", "bool", "date", "datetime", "map", "list")
RETURN_TYPES: Final = ("void", "string", "int", "decimal", "bool", "map", "list")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
# What each category receives, returns and attaches to (console-ux.md §3.6), and its usual
# return type.
CATEGORIES: Final = (
    ("standalone", "string", "Called by other functions, REST calls and the command line."),
    ("automation", "void", "Run by workflow rules with arguments mapped from the record."),
    ("button", "string", "Run by a button on a record page; returns the message shown."),
    ("related_list", "string", "Fills a related list on a record page; returns XML rows."),
    ("validation", "map", "Checks a record before it is saved; can block the save."),
    ("schedule", "void", "Run on a schedule (cron or every N minutes)."),
)
_DEFAULT_RETURN: Final = {
    "void": "",
    "string": '  return "";\n',
    "int": "  return 0;\n",
    "decimal": "  return 0.0;\n",
    "bool": "  return false;\n",
    "map": "  return Map();\n",
    "list": "  return List();\n",
}
TOASTS: Final = {
    "created": "Function created as draft v1",
    "saved": "Saved",
    "published": "Published",
}


def fx_for(ctx: Ctx) -> Any:
    """The functions service, after checking the viewer may manage functions."""
    ctx.viewer.require("manage_functions", PAGE)
    return ctx.functions


def function_or_404(fx: Any, api_name: str) -> Any:
    info = fx.registry.find(api_name)
    if info is None:
        raise NotFound(f"No function named {api_name} — it may have been deleted.")
    return info


def author_of(ctx: Ctx) -> str:
    return str(ctx.viewer.user.id)


def author_label(ctx: Ctx, author: str | None) -> str:
    """A version's author as a name: user ids become the user's name."""
    if not author:
        return ""
    if author.isdigit():
        user = ctx.crm.users.get(author)
        if user is not None:
            return str(user.full_name or user.email)
    return author


# ---------------------------------------------------------------------------------- list


@route(router, "/functions")
def function_list(ctx: Ctx) -> Response:
    fx = fx_for(ctx)
    since = datetime.now(UTC) - timedelta(hours=24)
    # The hourly counters of every function, not their runs one by one.
    counts: dict[str, list[int]] = {}
    hourly = eq.hourly_run_counts(ctx.crm, int(since.timestamp() * 1000))
    for name, (runs, failures) in hourly.items():
        total = counts.setdefault(str(name).lower(), [0, 0])
        total[0] += runs
        total[1] += failures
    rows = []
    for info in fx.registry.list():
        runs, failures = counts.get(info.api_name.lower(), [0, 0])
        rows.append(
            {
                "info": info,
                "last": eq.last_run(ctx.crm, info.api_name),
                "runs": runs,
                "failures": failures,
                "capped": False,
            }
        )
    return ctx.render("functions/list.html", rows=rows)


# ---------------------------------------------------------------------------------- new


@route(router, "/functions/new")
def new_form(ctx: Ctx) -> Response:
    fx_for(ctx)
    return _new_page(ctx, {"category": "standalone", "return_type": "string"}, [], {})


@route(router, "/functions/new", ("POST",))
def create(ctx: Ctx) -> Response:
    fx = fx_for(ctx)
    typed = {
        k: ctx.value(k).strip() for k in ("category", "api_name", "display_name", "return_type")
    }
    args = [
        (ctx.value(f"argname.{i}").strip(), ctx.value(f"argtype.{i}").strip())
        for i in range(ARG_ROWS)
    ]
    errors = _new_errors(fx, typed, args)
    if errors:
        return _new_page(ctx, typed, args, errors, status=422)
    source = template_source(
        typed["category"], typed["api_name"], typed["return_type"], [a for a in args if a[0]]
    )
    try:
        fx.registry.create(
            source,
            api_name=typed["api_name"],
            display_name=typed["display_name"] or None,
            author=author_of(ctx),
        )
    except Exception as exc:
        code = getattr(exc, "code", None)
        if code not in ("DUPLICATE_DATA", "INVALID_DATA", "SYNTAX_ERROR"):
            raise
        field = "api_name" if code != "SYNTAX_ERROR" else "arguments"
        return _new_page(ctx, typed, args, {field: str(exc.message)}, status=422)  # type: ignore[attr-defined]
    return ctx.redirect(ctx.url(f"/functions/{typed['api_name']}", done="created"))


def _new_errors(fx: Any, typed: dict[str, str], args: list[tuple[str, str]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if typed["category"] not in {c for c, _, _ in CATEGORIES}:
        errors["category"] = "Choose a category."
    name = typed["api_name"]
    if not name:
        errors["api_name"] = "API name is required."
    elif not _NAME.fullmatch(name):
        errors["api_name"] = (
            "API name: start with a letter or '_', then letters, digits and '_' (at most 100)."
        )
    elif name.lower() == "new":
        errors["api_name"] = "API name: 'new' is reserved by the console; choose another name."
    elif fx.registry.find(name) is not None:
        errors["api_name"] = f"A function named {name} already exists."
    if typed["return_type"] not in RETURN_TYPES:
        errors["return_type"] = "Choose a return type."
    seen: set[str] = set()
    for i, (arg, kind) in enumerate(args):
        if not arg:
            continue
        if not _NAME.fullmatch(arg):
            errors[f"arg.{i}"] = f"Argument {i + 1}: '{arg}' is not a valid name."
        elif arg.lower() in seen:
            errors[f"arg.{i}"] = f"Argument {i + 1}: '{arg}' is used twice."
        elif kind not in ARG_TYPES:
            errors[f"arg.{i}"] = f"Argument {i + 1}: choose a type."
        seen.add(arg.lower())
    return errors


def template_source(
    category: str, api_name: str, return_type: str, args: list[tuple[str, str]]
) -> str:
    """The first draft of a new function: its header and a body that compiles."""
    params = ", ".join(f"{kind} {name}" for name, kind in args)
    lines = [f'  info "{api_name} started";\n']
    for name, _ in args:
        lines.append(f'  info "{name}: " + {name};\n')
    body = "".join(lines) + _DEFAULT_RETURN.get(return_type, "")
    return f"{return_type} {category}.{api_name}({params})\n{{\n{body}}}\n"


def _new_page(
    ctx: Ctx,
    typed: dict[str, str],
    args: list[tuple[str, str]],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    rows = list(args) + [("", "string")] * (ARG_ROWS - len(args))
    return ctx.render(
        "functions/new.html",
        status=status,
        typed=typed,
        args=rows,
        errors=errors,
        categories=CATEGORIES,
        arg_types=ARG_TYPES,
        return_types=RETURN_TYPES,
    )


# ---------------------------------------------------------------------------------- editor


@route(router, "/functions/{api_name}")
def function_page(ctx: Ctx, api_name: str) -> Response:
    fx = fx_for(ctx)
    info = function_or_404(fx, api_name)
    toast = TOASTS.get(ctx.value("done"))
    return editor_page(ctx, fx, info, chosen_version(ctx, info), toast=toast)


def chosen_version(ctx: Ctx, info: Any) -> int:
    """The version loaded into the editor: ``?version=N``, else the latest (the draft)."""
    text = ctx.value("version")
    if text.isdigit() and 1 <= int(text) <= (info.latest_version or 0):
        return int(text)
    return int(info.latest_version or info.live_version or 1)


def editor_page(
    ctx: Ctx,
    fx: Any,
    info: Any,
    number: int,
    *,
    source: str | None = None,
    result: Any = None,
    http_calls: list[dict[str, Any]] | None = None,
    typed: dict[str, str] | None = None,
    nulls: set[str] | None = None,
    arg_errors: dict[str, str] | None = None,
    message: dict[str, Any] | None = None,
    toast: str | None = None,
    fill: dict[str, Any] | None = None,
    attachments: list[Any] | None = None,
    status: int = 200,
) -> Response:
    try:
        version = fx.registry.version(info.api_name, number)
    except Exception as exc:
        if getattr(exc, "code", None) == "NOT_FOUND":
            raise NotFound(f"{info.api_name} has no version {number}.") from None
        raise
    buffer = (version.source or "") if source is None else source
    nonce = new_style_nonce()
    response = ctx.render(
        "functions/editor.html",
        status=status,
        info=info,
        version=version,
        buffer=buffer,
        source_lines=buffer.split("\n"),
        arguments=[_arg(a) for a in version.arguments or ()],
        typed=typed or {},
        nulls=nulls or set(),
        arg_errors=arg_errors or {},
        attachments=_attachments(ctx, info) if attachments is None else attachments,
        fill=fill or {},
        result=result,
        http_calls=http_calls or [],
        message=message,
        limits=fx.executor.limits_for(info),
        recent=fx.executions.list(function=info.api_name, limit=8),
        nonce=nonce,
        tab="code",
        toast=toast,
    )
    return allow_style_nonce(response, nonce)


# ---------------------------------------------------------------------------------- fill as …


def _attachments(ctx: Ctx, info: Any) -> list[Any]:
    from floodway.api.automation import store
    from floodway.automation.attachments import attachments

    return attachments(store(ctx.request), info.api_name)


@route(router, "/functions/{api_name}/fill", ("POST",))
def fill_arguments(ctx: Ctx, api_name: str) -> Response:
    """ "Fill as ‹attachment› would…": the arguments a rule, button or related list calling this
    function would pass for a record (its id, or the start of its name)."""
    from floodway.automation.attachments import arguments_for, find
    from floodway.automation.errors import AutomationError

    fx = fx_for(ctx)
    info = function_or_404(fx, api_name)
    number = chosen_version(ctx, info)
    version = fx.registry.version(info.api_name, number)
    _, typed, nulls, _ = _arguments(ctx, list(version.arguments or ()))
    wanted = ctx.value("fill.record").strip()[:200]
    fill: dict[str, Any] = {"from": ctx.value("fill.from"), "record": wanted}
    listed = _attachments(ctx, info)
    status = 200
    try:
        attachment = find(listed, info.api_name, fill["from"])
        record_id, record_name = _record_for(ctx, attachment.module, wanted)
        values = arguments_for(ctx.crm, fx, attachment, record_id, author_of(ctx))
        for name, value in values.items():
            nulls.discard(name)
            if value is None:
                nulls.add(name)
                typed[name] = ""
            else:
                typed[name] = _as_input(value)
        fill["done"] = f"Filled as {attachment.label} would for {record_name}."
    except AutomationError as exc:
        fill["error"] = exc.message
        status = 422
    if ctx.is_htmx:
        return ctx.render(
            "functions/_arguments.html",
            info=info,
            version=version,
            arguments=[_arg(a) for a in version.arguments or ()],
            typed=typed,
            nulls=nulls,
            arg_errors={},
            attachments=listed,
            fill=fill,
        )
    source = _buffer(ctx) if ctx.form is not None and "source" in ctx.form else None
    return editor_page(
        ctx,
        fx,
        info,
        number,
        source=source,
        typed=typed,
        nulls=nulls,
        fill=fill,
        attachments=listed,
        status=status,
    )


def _record_for(ctx: Ctx, module: str, wanted: str) -> tuple[str, str]:
    """(id, name) of the record ``wanted`` names: its id, else the first whose name starts so."""
    from floodway.automation.errors import AutomationError

    if not wanted:
        raise AutomationError("INVALID_DATA", "Enter a record id or the start of its name")
    mod = ctx.crm.metadata.module(module)
    if wanted.isdigit():
        record = ctx.crm.records.get(module, wanted)
        if record is not None:
            return wanted, str(record.get(mod.name_field) or wanted)
    criteria = combined_criteria("", mod.name_field, wanted)
    found = ctx.crm.records.search(module, criteria=criteria, per_page=1).data if criteria else []
    if not found:
        raise AutomationError("NOT_FOUND", f"No {module} record with the id or name {wanted!r}")
    return str(found[0]["id"]), str(found[0].get(mod.name_field) or found[0]["id"])


def _as_input(value: Any) -> str:
    """An argument value as the arguments pane shows it: JSON for maps and lists."""
    from floodway.deluge.values import DelugeList, DelugeMap, text_form, to_json_text

    if isinstance(value, DelugeList | DelugeMap | list | dict):
        return to_json_text(value)
    return text_form(value)


# ---------------------------------------------------------------------------------- save, publish


def _syntax_message(exc: Any) -> dict[str, Any]:
    details = getattr(exc, "details", {}) or {}
    return {
        "kind": "error",
        "text": f"Not saved: {exc.message}",
        "line": details.get("line"),
        "column": details.get("column"),
        "error": exc.message,
    }


def _save(ctx: Ctx, fx: Any, info: Any, source: str) -> tuple[Any, dict[str, Any] | None]:
    """Save the buffer as a draft; (SaveResult, None) or (None, message for the page)."""
    try:
        return fx.registry.save(info.api_name, source, author=author_of(ctx)), None
    except Exception as exc:
        code = getattr(exc, "code", None)
        if code == "SYNTAX_ERROR":
            return None, _syntax_message(exc)
        if code == "INVALID_DATA":
            return None, {"kind": "error", "text": f"Not saved: {exc.message}", "line": 1}  # type: ignore[attr-defined]
        raise


def _message_response(
    ctx: Ctx, fx: Any, info: Any, number: int, source: str, message: dict[str, Any]
) -> Response:
    """The outcome of a save or publish: a fragment for htmx, else the page or a redirect."""
    fresh = fx.registry.get(info.api_name)
    if ctx.is_htmx:
        return ctx.render("functions/_editor_message.html", message=message, info=fresh)
    if message["kind"] == "error":
        return editor_page(ctx, fx, fresh, number, source=source, message=message, status=422)
    done = "published" if message.get("published") else "saved"
    return ctx.redirect(ctx.url(f"/functions/{fresh.api_name}", done=done))


@route(router, "/functions/{api_name}/save", ("POST",))
def save(ctx: Ctx, api_name: str) -> Response:
    fx = fx_for(ctx)
    info = function_or_404(fx, api_name)
    source = _buffer(ctx)
    saved, problem = _save(ctx, fx, info, source)
    if problem is not None:
        return _message_response(ctx, fx, info, chosen_version(ctx, info), source, problem)
    version = saved.version
    text = (
        f"Saved as draft v{version.number}"
        if saved.version_created
        else f"No changes since v{version.number}"
    )
    message = {"kind": "ok", "text": text, "saved_version": version.number}
    return _message_response(ctx, fx, info, version.number, source, message)


@route(router, "/functions/{api_name}/publish", ("POST",))
def publish(ctx: Ctx, api_name: str) -> Response:
    fx = fx_for(ctx)
    info = function_or_404(fx, api_name)
    source = _buffer(ctx)
    saved, problem = _save(ctx, fx, info, source)
    if problem is not None:
        problem["text"] = problem["text"].replace("Not saved", "Not published", 1)
        return _message_response(ctx, fx, info, chosen_version(ctx, info), source, problem)
    number = saved.version.number
    before = saved.function.live_version
    if before == number:
        text = f"v{number} is already live"
    else:
        fx.registry.publish(info.api_name, number, author=author_of(ctx))
        text = f"Published v{number}" + (f" (was v{before})" if before else "")
    message = {"kind": "ok", "text": text, "saved_version": number, "published": True}
    return _message_response(ctx, fx, info, number, source, message)


def _buffer(ctx: Ctx) -> str:
    """The posted source with the browser's CR LF line ends as LF (what the editor shows)."""
    return ctx.value("source").replace("\r\n", "\n")


# ---------------------------------------------------------------------------------- run


@route(router, "/functions/{api_name}/run", ("POST",))
def run(ctx: Ctx, api_name: str) -> Response:
    fx = fx_for(ctx)
    info = function_or_404(fx, api_name)
    number = chosen_version(ctx, info)
    version = fx.registry.version(info.api_name, number)
    posted = ctx.form is not None and "source" in ctx.form
    source = _buffer(ctx) if posted else version.source or ""
    program, problem = _program(fx, info, source) if posted else (None, None)
    declared = list(program.params) if program is not None else list(version.arguments or ())
    args, typed, nulls, errors = _arguments(ctx, declared)
    result = None
    if not errors and problem is None:
        if program is None or source == version.source:
            result = fx.executor.run(
                info.api_name,
                args,
                version=number,
                user_id=author_of(ctx),
                trigger={"type": "manual"},
            )
        else:
            result = fx.executor.run_source(
                program, args, user_id=author_of(ctx), trigger={"type": "manual"}
            )
    calls = _http_calls(fx, result)
    status = 200 if not errors else 422
    if ctx.is_htmx:
        return ctx.render(
            "functions/_run_result.html",
            result=result,
            problem=problem,
            http_calls=calls,
            limits=fx.executor.limits_for(info),
            arg_errors=errors,
            source_lines=source.split("\n"),
        )
    if problem is not None:
        return editor_page(ctx, fx, info, number, source=source, message=problem, status=422)
    return editor_page(
        ctx,
        fx,
        info,
        number,
        source=source,
        result=result,
        http_calls=calls,
        typed=typed,
        nulls=nulls,
        arg_errors=errors,
        status=status,
    )


def _program(fx: Any, info: Any, source: str) -> tuple[Any, dict[str, Any] | None]:
    """The buffer compiled for a run, or why it cannot run (with its line)."""
    from floodway.functions.registry import compile_source

    try:
        return compile_source(source, info.api_name).program, None
    except Exception as exc:
        code = getattr(exc, "code", None)
        if code == "SYNTAX_ERROR":
            message = _syntax_message(exc)
            message["text"] = f"Not run: {exc.message}"  # type: ignore[attr-defined]
            return None, message
        if code == "INVALID_DATA":
            return None, {"kind": "error", "text": f"Not run: {exc.message}", "line": 1}  # type: ignore[attr-defined]
        raise


def _http_calls(fx: Any, result: Any) -> list[dict[str, Any]]:
    if result is None or not getattr(result, "id", None):
        return []
    try:
        return list(fx.executions.get(result.id).get("http_calls") or [])
    except Exception as exc:
        if getattr(exc, "code", None) == "NOT_FOUND":
            return []
        raise


def _arguments(
    ctx: Ctx, arguments: list[Any]
) -> tuple[dict[str, Any], dict[str, str], set[str], dict[str, str]]:
    """Typed argument values: text for scalars (the executor converts them to the declared type
    and names the argument when it cannot), JSON for maps and lists, None when marked null."""
    args: dict[str, Any] = {}
    typed: dict[str, str] = {}
    nulls: set[str] = set()
    errors: dict[str, str] = {}
    for arg in arguments:
        name, kind = _arg(arg)
        text = ctx.value("arg." + name)
        typed[name] = text
        if ctx.value("null." + name) == "on":
            nulls.add(name)
            args[name] = None
            continue
        if kind.lower() in JSON_TYPES:
            try:
                args[name] = json.loads(text) if text.strip() else None
            except ValueError as exc:
                errors[name] = f"{name}: not valid JSON ({exc.msg} at column {exc.colno})."
        elif kind.lower() in ("bool", "boolean"):
            args[name] = text == "true"
        else:
            args[name] = text
    return args, typed, nulls, errors


def _arg(arg: Any) -> tuple[str, str]:
    if isinstance(arg, dict):
        return str(arg.get("name")), str(arg.get("type") or "")
    name, kind = arg
    return str(name), str(kind or "")
