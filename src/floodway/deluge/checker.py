"""``floodway check``: syntax errors and warnings of a function file without running it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import DelugeSyntaxError


@dataclass(frozen=True, slots=True)
class Diagnostic:
    line: int
    column: int
    severity: str  # "error" | "warning"
    message: str


def check_source(source: str, name: str = "main") -> list[Diagnostic]:
    from .compiler import compile_source
    from .parser import parse

    try:
        program = compile_source(source, name)
    except DelugeSyntaxError as exc:
        return [Diagnostic(exc.line or 1, exc.column or 1, "error", exc.message)]
    return check_module(parse(source), program.implicit_args)


def check_module(module: Any, implicit_args: Sequence[str]) -> list[Diagnostic]:
    """The warnings (and unknown-method errors) of a module that compiles; callers that have
    parsed it already (the console's check as you type) pass it in rather than parse again."""
    from . import nodes as n
    from .analysis import stmt_exprs, walk_expr, walk_statements

    out: list[Diagnostic] = []
    for arg in implicit_args:
        for s in walk_statements(module.body):
            hit = next(
                (
                    x
                    for e in stmt_exprs(s)
                    for x in walk_expr(e)
                    if isinstance(x, n.Name | n.InputArg) and x.name == arg
                ),
                None,
            )
            if hit is not None:
                out.append(
                    Diagnostic(
                        hit.line,
                        hit.col,
                        "warning",
                        f"'{arg}' is never assigned: it is read as an argument of the function",
                    )
                )
                break
    for s in walk_statements(module.body):
        for e in stmt_exprs(s):
            for x in walk_expr(e):
                if isinstance(x, n.TaskCall) and x.namespace not in ("crm", "encryption"):
                    out.append(
                        Diagnostic(
                            x.line,
                            x.col,
                            "warning",
                            f"Task '{x.path}' is not supported by floodway and fails when it runs",
                        )
                    )
                elif isinstance(x, n.SystemVar) and x.name in ("appname", "appuri", "ipaddress"):
                    out.append(
                        Diagnostic(
                            x.line,
                            x.col,
                            "warning",
                            f"zoho.{x.name} is a Zoho Creator variable and is null in floodway",
                        )
                    )
    from .registry import methods_of
    from .static_checks import known_receiver_type

    for s in walk_statements(module.body):
        for e in stmt_exprs(s):
            for x in walk_expr(e):
                if isinstance(x, n.MethodCall):
                    tag = known_receiver_type(x.receiver)
                    if tag is not None and x.name.lower() not in methods_of(tag):
                        out.append(
                            Diagnostic(
                                x.line, x.col, "error", f"'{x.name}' is not a function of {tag}"
                            )
                        )
    if module.header is not None and module.header.return_type == "void":
        for s in walk_statements(module.body):
            if isinstance(s, n.Return) and s.value is not None:
                out.append(
                    Diagnostic(
                        s.line, s.col, "warning", "A void function's return value is discarded"
                    )
                )
    out.sort(key=lambda d: (d.line, d.column))
    return out
