"""Compile-time errors found on the syntax tree alone (deluge-language.md §8).

Two rules need no code generation: loops and try/catch nested deeper than CPython compiles, and
a wrong argument count for a method called on a literal or constructor (whose type is known).
``analyse`` runs them, so every compile and the editor's check (parse and analyse, no code
generation) report the same errors at the same place. The walk follows the compiler's order:
a statement's expressions before its body, a try's catch block before its body, a method call
before its receiver and arguments.
"""

from __future__ import annotations

from typing import Final

from . import nodes as n
from .analysis import child_exprs
from .errors import DelugeSyntaxError

__all__ = ["MAX_PY_BLOCKS", "check_static"]

# CPython compiles at most 20 statically nested blocks; the generated function uses one.
MAX_PY_BLOCKS: Final = 19
FOR_WEIGHT: Final = 1
TRY_WEIGHT: Final = 1
CATCH_WEIGHT: Final = 2  # the except clause inside the try


def check_static(module: n.Module) -> None:
    """Raise ``DelugeSyntaxError`` for the first violation, in source order."""
    _block(module.body, 0)


def _block(stmts: list[n.Stmt], depth: int) -> None:
    for s in stmts:
        _stmt(s, depth)


def _stmt(s: n.Stmt, depth: int) -> None:
    if isinstance(s, n.If):
        for cond, body in s.branches:
            _expr(cond)
            _block(body, depth)
        if s.orelse:
            _block(s.orelse, depth)
    elif isinstance(s, n.ForEach):
        _expr(s.iterable)
        _block(s.body, _enter(s, depth, FOR_WEIGHT))
    elif isinstance(s, n.TryCatch):
        _block(s.handler, _enter(s, depth, CATCH_WEIGHT))
        _block(s.body, _enter(s, depth, TRY_WEIGHT))
    elif isinstance(s, n.Assign | n.Info | n.Throw):
        _expr(s.value)
    elif isinstance(s, n.ExprStmt):
        _expr(s.expr)
    elif isinstance(s, n.Return) and s.value is not None:
        _expr(s.value)


def _enter(node: n.Node, depth: int, weight: int) -> int:
    inner = depth + weight
    if inner > MAX_PY_BLOCKS:
        raise DelugeSyntaxError(
            f"Nesting of loops and try/catch blocks exceeds the limit of {MAX_PY_BLOCKS} "
            "levels (a catch block counts as two)",
            node.line,
            node.col,
        )
    return inner


def _expr(e: n.Expr) -> None:
    if isinstance(e, n.MethodCall):
        _check_arity(e)
    for child in child_exprs(e):
        _expr(child)


def known_receiver_type(e: n.Expr) -> str | None:
    """The Deluge type of a receiver visible in the source: literals and constructors."""
    from .values import BOOLEAN, DECIMAL, LIST, MAP, NUMBER, TEXT

    if isinstance(e, n.Literal):
        v = e.value
        return {str: TEXT, int: NUMBER, float: DECIMAL, bool: BOOLEAN}.get(type(v))
    if isinstance(e, n.ListLiteral):
        return LIST
    if isinstance(e, n.MapLiteral):
        return MAP
    if isinstance(e, n.Constructor):
        return MAP if e.kind == "map" else LIST
    return None


def _check_arity(e: n.MethodCall) -> None:
    """A wrong argument count on a receiver of known type is a syntax error (§8)."""
    from .registry import methods_of

    tag = known_receiver_type(e.receiver)
    if tag is None:
        return
    b = methods_of(tag).get(e.name.lower())
    if b is None:
        return  # unknown methods are runtime errors; `floodway check` reports them
    k = len(e.args)
    if k < b.min_args or (b.max_args is not None and k > b.max_args):
        raise DelugeSyntaxError(b.arity_error(k), e.line, e.col)
