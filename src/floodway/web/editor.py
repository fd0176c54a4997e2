"""What the function editor asks the server while you type (console-ux.md §3.7): the check behind
its error markers, and the table its autocomplete draws from.

``POST /editor/check`` answers ``{"diagnostics": [{line, column, severity, message}], "ms"}``
for a buffer. It must answer well inside the 300 ms between the last keystroke and the markers
(§7), so it parses the buffer once and runs the compiler's front half (analysis and code
generation, where every syntax error is found), not the Python byte-code compile that running
needs. On top of the compiler's findings it adds what only the org knows: a CRM task naming a
module that does not exist, a header naming another function.

``GET /editor/completions`` gives built-in methods and functions (from the engine's own tables,
so the list follows the engine), ``zoho.crm.*`` tasks with their parameters, the org's module
and field API names, connection names and standalone functions.

Both need ``manage_functions`` (security.md AZ-1); the check is a POST with the CSRF token.
"""

from __future__ import annotations

import ast
import inspect
import re
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from .http import Ctx, route

router = APIRouter()

PAGE: Final = "Functions"
MAX_SOURCE: Final = 1_000_000  # characters; the registry stores nothing larger either
NO_STORE: Final = {"Cache-Control": "no-store"}
TYPE_LABELS: Final = {
    "TEXT": "Text",
    "NUMBER": "Int",
    "DECIMAL": "Decimal",
    "BOOLEAN": "Bool",
    "null": "Null",
    "LIST": "List",
    "MAP": "Map",
    "COLLECTION": "Collection",
    "DATE-TIME": "Date-Time",
    "FILE": "File",
}
# Parameter names of the CRM tasks, as deluge-language.md §12.3 writes them ("?" = optional).
TASK_PARAMS: Final = {
    "getRecordById": "module, id, options?, connection?",
    "getRecords": "module, page?, per_page?, query?, connection?",
    "searchRecords": "module, criteria, page?, per_page?, query?, connection?",
    "createRecord": "module, record, options?, connection?",
    "updateRecord": "module, id, record, options?, connection?",
    "upsert": "module, record, options?, connection?",
    "bulkCreate": "module, records, options?, connection?",
    "bulkUpdate": "module, records, options?, connection?",
    "getRelatedRecords": "relation, parent_module, parent_id, page?, per_page?, query?, connection?",
    "updateRelatedRecord": "relation, related_id, parent_module, parent_id, record?, connection?",
    "attachFile": "module, id, file, connection?",
    "convertLead": "lead_id, values?, connection?",
    "getOrgVariable": "name, connection?",
    "invokeConnector": "name, parameters",
    "raiseSignal": "name, parameters?",
}
# Tasks whose first argument is a module API name (checked against the org's modules).
MODULE_TASKS: Final = frozenset(
    {
        "getrecordbyid",
        "getrecords",
        "searchrecords",
        "createrecord",
        "updaterecord",
        "upsert",
        "bulkcreate",
        "bulkupdate",
        "attachfile",
    }
)
SYSTEM_FIELDS: Final = (
    ("id", "id"),
    ("Owner", "ownerlookup"),
    ("Created_By", "ownerlookup"),
    ("Modified_By", "ownerlookup"),
    ("Created_Time", "datetime"),
    ("Modified_Time", "datetime"),
)
_HEADER: Final = re.compile(r"^\s*[A-Za-z_]\w*\s+([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*)\s*\(")


def _need(ctx: Ctx) -> None:
    ctx.viewer.require("manage_functions", PAGE)


# ---------------------------------------------------------------------------------- check


@route(router, "/editor/check", ("POST",))
def check(ctx: Ctx) -> Response:
    _need(ctx)
    started = time.perf_counter()
    source = ctx.value("source")
    api_name = ctx.value("api_name").strip()
    if len(source) > MAX_SOURCE:
        found = [_diag(1, 1, "error", f"The source is longer than {MAX_SOURCE:,} characters")]
    else:
        found = diagnostics(source, api_name or None, _module_names(ctx))
    ms = round((time.perf_counter() - started) * 1000, 1)
    return JSONResponse({"diagnostics": found, "ms": ms}, headers=NO_STORE)


def diagnostics(source: str, api_name: str | None, modules: set[str]) -> list[dict[str, Any]]:
    """The editor's markers for ``source``: the compiler's error, else its warnings and the
    org-specific ones, sorted by position."""
    from floodway.deluge import DelugeSyntaxError
    from floodway.deluge.analysis import analyse
    from floodway.deluge.checker import check_module
    from floodway.deluge.parser import parse

    try:
        module = parse(source)
        facts = analyse(module)  # every compile-time error; no code is generated
    except DelugeSyntaxError as exc:
        return [_diag(exc.line or 1, exc.column or 1, "error", exc.message)]
    except RecursionError:
        return [_diag(1, 1, "error", "The code is nested too deeply to compile")]
    out = [
        _diag(d.line, d.column, d.severity, d.message)
        for d in check_module(module, facts.implicit_args)
    ]
    out.extend(_header_mismatch(source, api_name))
    out.extend(_unknown_modules(module, modules))
    out.sort(key=lambda d: (d["line"], d["column"]))
    return out


def _diag(line: int, column: int, severity: str, message: str) -> dict[str, Any]:
    return {"line": line, "column": column, "severity": severity, "message": message}


def _header_mismatch(source: str, api_name: str | None) -> list[dict[str, Any]]:
    """The registry refuses a header naming another function; say so at the header."""
    if not api_name:
        return []
    for number, text in enumerate(source.split("\n"), start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith("//"):
            continue
        m = _HEADER.match(text)
        if m and m.group(2).lower() != api_name.lower():
            return [
                _diag(
                    number,
                    m.start(2) + 1,
                    "error",
                    f"The header names '{m.group(2)}' but this function is '{api_name}'",
                )
            ]
        return []
    return []


def _unknown_modules(module: Any, modules: set[str]) -> list[dict[str, Any]]:
    from floodway.deluge import nodes as n
    from floodway.deluge.analysis import stmt_exprs, walk_expr, walk_statements

    if not modules:
        return []
    lower = {m.lower() for m in modules}
    out = []
    for s in walk_statements(module.body):
        for e in stmt_exprs(s):
            for x in walk_expr(e):
                if not (
                    isinstance(x, n.TaskCall)
                    and x.namespace == "crm"
                    and x.task.lower() in MODULE_TASKS
                    and x.args
                ):
                    continue
                arg = x.args[0]
                value = arg.value if isinstance(arg, n.Literal) else None
                if isinstance(value, str) and value.lower() not in lower:
                    out.append(
                        _diag(
                            arg.line,
                            arg.col,
                            "warning",
                            f"'{value}' is not a module of this org",
                        )
                    )
    return out


def _module_names(ctx: Ctx) -> set[str]:
    try:
        return {m.api_name for m in ctx.crm.metadata.modules()}
    except Exception:  # no schema to check against: the compiler's findings still stand
        return set()


# ---------------------------------------------------------------------------------- completions


@route(router, "/editor/completions")
def completions(ctx: Ctx) -> Response:
    _need(ctx)
    table: dict[str, Any] = dict(_builtin_table())
    mods = sorted(ctx.crm.metadata.modules(), key=lambda m: (bool(m.custom), m.sequence_number))
    table["modules"] = [m.api_name for m in mods]
    table["fields"] = {
        m.api_name: [{"label": f.api_name, "type": f.type} for f in m.fields.values()]
        + [{"label": name, "type": kind} for name, kind in SYSTEM_FIELDS]
        for m in mods
    }
    fx = ctx.functions
    table["standalone"] = [f.api_name for f in fx.registry.list(category="standalone")]
    try:
        table["connections"] = [c["name"] for c in fx.connections.list()]
    except Exception:  # connections need a keyring; the editor works without them
        table["connections"] = []
    return JSONResponse(table, headers={"Cache-Control": "private, max-age=60"})


@lru_cache(maxsize=1)
def _builtin_table() -> dict[str, Any]:
    """Methods, global functions and CRM tasks: fixed for the life of the process."""
    import floodway.deluge.runtime  # noqa: F401  (registers and freezes the built-ins)
    from floodway.deluge import registry
    from floodway.deluge.tasks import LEGACY_FUNCTIONS
    from floodway.functions.crm_bridge import TASKS

    spelled = _spellings()
    methods: dict[str, dict[str, Any]] = {}
    for type_tag, table in registry.METHODS.items():
        for key, builtin in table.items():
            label = spelled.get(key, builtin.name)
            item = methods.setdefault(
                label.lower(),
                {
                    "label": label,
                    "signature": _signature(label, builtin.fn, 2, builtin.min_args),
                    "types": [],
                    "info": _doc(builtin.fn),
                },
            )
            item["types"].append(TYPE_LABELS.get(type_tag, type_tag))
    method_items = [
        {
            "label": m["label"],
            "detail": f"{m['signature']} · {', '.join(sorted(set(m['types'])))}",
            "info": m["info"],
        }
        for m in sorted(methods.values(), key=lambda m: m["label"].lower())
    ]
    functions = [
        {
            "label": spelled.get(k, b.name),
            "detail": _signature(spelled.get(k, b.name), b.fn, 1, b.min_args),
        }
        for k, b in sorted(registry.functions().items())
    ]
    legacy = {
        "geturl": "getUrl",
        "posturl": "postUrl",
        "invokeurl": "invokeUrl",
        "openurl": "openUrl",
    }
    functions += [{"label": legacy.get(k, k), "detail": "(…)"} for k in LEGACY_FUNCTIONS]
    functions.append({"label": "ifnull", "detail": "ifnull(value, fallback)"})
    tasks = [
        {"label": name, "detail": f"({TASK_PARAMS.get(name, f'{lo} to {hi} arguments')})"}
        for name, lo, hi in sorted(TASKS.values())
    ]
    return {"methods": method_items, "functions": functions, "tasks": tasks}


def _signature(label: str, fn: Any, skip: int, minimum: int) -> str:
    params = list(inspect.signature(fn).parameters.values())[skip:]
    parts = []
    for i, p in enumerate(params):
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            parts.append(f"{p.name}…")
        elif p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            parts.append(p.name + ("?" if i >= minimum else ""))
    return f"{label}({', '.join(parts)})"


def _doc(fn: Any) -> str:
    text = (inspect.getdoc(fn) or "").strip()
    return text.split("\n\n", 1)[0].replace("\n", " ")


def _spellings() -> dict[str, str]:
    """How each built-in name is written where it is registered (``@method(TEXT, "toLong")``):
    the registry keeps lower-case keys and only the first name's spelling."""
    import floodway.deluge.builtins as pkg

    names: dict[str, str] = {}
    for path in sorted(Path(pkg.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called not in ("method", "function"):
                continue
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.setdefault(arg.value.lower(), arg.value)
    return names
