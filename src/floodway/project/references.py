"""What manifest entries refer to: modules' fields, merge-field templates, criteria, functions.

Shared by the workflow rules (``workflows.py``) and the other trigger tables (``triggers.py``).
Every check reports through the table's reader and goes on; without org metadata only what is
certain is reported (see ``catalog.py``). Functions found in ``functions/`` are checked here
(category, argument names, parameterless schedules); the others become ``FunctionRef`` entries
that the deploy step checks against the org.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from floodway.crm.criteria import (
    Criteria,
    CriteriaError,
    compile_criteria,
    iter_conditions,
    parse_criteria,
)

from .catalog import REFERENCE_TYPES
from .manifest import Context
from .merge_fields import MergeFieldError, Template, parse_template
from .model import FunctionRef
from .reader import TableReader, unknown_hint
from .signatures import FunctionSignature, signature_problems


class Scope:
    """What merge fields may refer to where a template is written."""

    def __init__(self, module: str | None, owner: str, *, list_button: bool = False) -> None:
        self.module = module  # None when the entry's module was rejected: skip module checks
        self.owner = owner  # "workflow", "button", "related list"
        self.list_button = list_button


def field_ref(
    ctx: Context,
    r: TableReader,
    key: str,
    module: str,
    name: str,
    sub: str | None = None,
    shown: str | None = None,
) -> tuple[str, str | None] | None:
    """Check ``module.name[.sub]``; returns ``(api name, type)`` when known, reports problems."""
    info = ctx.catalog.module(module)
    label = f"{shown}: " if shown else ""
    if info is None:
        return None
    if name.lower() == "id":
        if sub is not None:
            r.problem(key, f"{label}the record id has no .{sub}")
        return ("id", "id")
    found = info.field(name)
    if found is None:
        if ctx.catalog.complete:
            names = [n for n, _ in info.fields.values()]
            r.problem(
                key,
                f'{label}unknown field "{name}" in module {info.api_name}{unknown_hint(name, names)}',
            )
        return None
    ftype = found[1]
    if sub is not None and ftype is not None:
        if ftype not in REFERENCE_TYPES:
            r.problem(
                key,
                f"{label}{found[0]} is a {ftype} field; .{sub} applies to lookup and owner fields",
            )
        elif sub == "email" and ftype != "ownerlookup":
            r.problem(
                key, f"{label}.email applies to owner fields (Owner, Created_By, Modified_By)"
            )
    return found


def template(ctx: Context, r: TableReader, key: str, text: str, scope: Scope) -> Template | None:
    """Parse a template and check each merge field against ``scope`` (§3: the module must be the
    entry's module; ``${selected_ids}`` only, and alone, on list buttons)."""
    try:
        tpl = parse_template(text)
    except MergeFieldError as exc:
        r.problem(key, exc.message)
        return None
    count = len(ctx.problems)
    for mf in tpl.merge_fields:
        if mf.kind == "selected_ids":
            if not scope.list_button:
                r.problem(key, f'{mf.text} is only available to list buttons (placement = "list")')
        elif mf.kind == "field":
            assert mf.module is not None and mf.field is not None
            if scope.list_button:
                r.problem(
                    key, f"{mf.text}: a list button has no single record; use ${{selected_ids}}"
                )
            elif scope.module is not None and mf.module.lower() != scope.module.lower():
                r.problem(
                    key,
                    f"{mf.text} names module {mf.module}, but the {scope.owner} is on {scope.module}",
                )
            elif scope.module is not None:
                field_ref(ctx, r, key, scope.module, mf.field, mf.sub, mf.text)
    return tpl if len(ctx.problems) == count else None


def templates(
    ctx: Context, r: TableReader, key: str, values: Mapping[str, str] | None, scope: Scope
) -> dict[str, Template] | None:
    """``template`` for each value of an inline table (problems keyed ``key.name``)."""
    if values is None:
        return None
    out: dict[str, Template] = {}
    ok = True
    for name, text in values.items():
        tpl = template(ctx, r, f"{key}.{name}", text, scope)
        if tpl is None:
            ok = False
        else:
            out[name] = tpl
    return out if ok else None


def criteria(ctx: Context, r: TableReader, text: str, module: str | None) -> Criteria | None:
    """Parse ``criteria`` with the search grammar's own parser (its message and column), then
    check each condition's field, and its operator and value where the field type is known."""
    try:
        tree = parse_criteria(text)
    except CriteriaError as exc:
        r.problem("criteria", str(exc))
        return None
    info = ctx.catalog.module(module) if module is not None else None
    if info is None:
        return tree
    count = len(ctx.problems)
    for cond in iter_conditions(tree):
        found = field_ref(
            ctx,
            r,
            "criteria",
            info.api_name,
            cond.field,
            None,
            f"condition at column {cond.position}",
        )
        if found is not None and found[1] is not None:
            try:
                compile_criteria(cond, {found[0]: found[1]})
            except CriteriaError as exc:
                r.problem("criteria", str(exc))
    return tree if len(ctx.problems) == count else None


def function_ref(
    ctx: Context,
    r: TableReader,
    key: str,
    category: str,
    arguments: Mapping[str, Any] | None = None,
) -> str | None:
    """The api name of the function ``key`` names, checked for ``category`` when it is in the
    project; recorded as a ``FunctionRef`` (must exist in the org) when it is not."""
    name = r.api_name(key, what="function API name")
    if name is None:
        return None
    args = tuple(arguments or ())
    fn = ctx.functions.get(name.lower())
    if fn is None:
        if name.lower() not in ctx.broken:  # a file that failed to compile is reported already
            ref = FunctionRef(name, category, args, category == "schedule", r.loc, r.key(key))
            ctx.external.append(ref)
        return name
    signature = FunctionSignature(fn.category, fn.params)
    found = signature_problems(fn.api_name, signature, category, args)
    for suffix, message in found:
        r.problem(key if suffix is None else suffix, message)
    return None if found else fn.api_name
