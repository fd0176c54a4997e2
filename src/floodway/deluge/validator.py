"""Admission check of generated Python trees before ``compile()`` (security.md SB-1, SB-2).

The compiler builds ``ast`` nodes, never source text; this validator is the second line: it
walks the tree and admits only the node kinds and names the compiler is meant to produce.
Anything else is a compiler bug and fails the compilation.

Beyond SB-1's list, it admits ``BinOp`` (+ - *), ``Compare`` and ``NamedExpr`` (to ``t_`` temps):
the compiler emits them only where its type analysis proved both operands to be NUMBER or TEXT
(exact ``int``/``str``), which is what makes counted loops and text building run at close to
plain-Python speed (docs/deluge-semantics.md, "Generated code"). Their operands are still only
names, constants and helper calls, so no attribute, subscript or foreign object is reachable.
"""

from __future__ import annotations

import ast
from typing import Final

_ADMITTED: Final = (
    ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Assign, ast.Expr, ast.Name,
    ast.Constant, ast.Call, ast.If, ast.IfExp, ast.BoolOp, ast.And, ast.Or, ast.For, ast.Break,
    ast.Continue, ast.Return, ast.Pass, ast.Try, ast.ExceptHandler, ast.Load, ast.Store,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Compare, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
    ast.Eq, ast.NotEq, ast.NamedExpr,
)  # fmt: skip
_ADMITTED_TYPES: Final = frozenset(_ADMITTED)
_CONSTANT_TYPES: Final = (str, int, float, bool, type(None), type(Ellipsis))


class GeneratedCodeRejected(Exception):
    """The compiler produced a tree outside the admitted subset (a floodway bug)."""


def _name_ok(name: str, helpers: frozenset[str]) -> bool:
    if name.startswith(("v_", "t_")):
        return name[2:].replace("_", "a").isalnum() and name.isascii()
    return name in helpers


# Child fields of each admitted node kind (expression contexts and operators have none).
_CHILDREN: Final[dict[type, tuple[str, ...]]] = {
    ast.Module: ("body",), ast.FunctionDef: ("args", "body"), ast.arguments: ("args", "defaults"),
    ast.arg: (), ast.Assign: ("targets", "value"), ast.Expr: ("value",), ast.Name: ("ctx",),
    ast.Constant: (), ast.Call: ("func", "args", "keywords"), ast.If: ("test", "body", "orelse"),
    ast.IfExp: ("test", "body", "orelse"), ast.BoolOp: ("op", "values"),
    ast.For: ("target", "iter", "body", "orelse"), ast.Break: (), ast.Continue: (),
    ast.Return: ("value",), ast.Pass: (), ast.Try: ("body", "handlers", "orelse", "finalbody"),
    ast.ExceptHandler: ("type", "body"), ast.BinOp: ("left", "op", "right"),
    ast.Compare: ("left", "ops", "comparators"), ast.NamedExpr: ("target", "value"),
}  # fmt: skip


def _walk(tree: ast.AST) -> list[ast.AST]:
    """Every node of the tree, iteratively; an unknown node kind is returned, not descended."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = [tree]
    children = _CHILDREN
    while stack:
        node = stack.pop()
        out.append(node)
        fields = vars(node)
        for name in children.get(type(node), ()):
            value = fields.get(name)
            if type(value) is list:
                stack.extend(value)
            elif value is not None:
                stack.append(value)
    return out


def validate(tree: ast.Module, helpers: frozenset[str]) -> None:
    names_ok: dict[str, bool] = {}
    stack: list[ast.AST] = [tree]
    children = _CHILDREN
    while stack:
        node = stack.pop()
        t = type(node)
        if t is ast.Name:  # the most common node: checked inline, its context included
            fields = vars(node)
            name, ctx = fields["id"], type(fields["ctx"])
            ok = names_ok.get(name)
            if ok is None:
                ok = names_ok[name] = _name_ok(name, helpers)
            if not ok:
                raise GeneratedCodeRejected(f"name {name!r} is not admitted")
            if ctx is not ast.Load and (ctx is not ast.Store or not name.startswith(("v_", "t_"))):
                raise GeneratedCodeRejected(f"store to {name!r}")
            continue
        if t not in _ADMITTED_TYPES:
            raise GeneratedCodeRejected(f"node {t.__name__} is not admitted")
        fields = vars(node)
        for field in children.get(t, ()):
            value = fields.get(field)
            if type(value) is list:
                stack.extend(value)
            elif value is not None:
                stack.append(value)
        if isinstance(node, ast.Constant):
            if type(node.value) not in _CONSTANT_TYPES:
                raise GeneratedCodeRejected("constant of a foreign type")
        elif isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in helpers) or node.keywords:
                raise GeneratedCodeRejected("call of something other than a runtime helper")
        elif isinstance(node, ast.For):
            it = node.iter
            if not (
                isinstance(it, ast.Call)
                and isinstance(it.func, ast.Name)
                and it.func.id.startswith("rt_each")
            ):
                raise GeneratedCodeRejected("loop over something other than a helper result")
            if not isinstance(node.target, ast.Name) or node.orelse:
                raise GeneratedCodeRejected("loop form")
        elif isinstance(node, ast.ExceptHandler):
            if not (isinstance(node.type, ast.Name) and node.type.id == "rt_RuntimeError"):
                raise GeneratedCodeRejected(
                    "handler for something other than the runtime error class"
                )
            if node.name is None or not node.name.startswith("t_"):
                raise GeneratedCodeRejected("handler binding")
        elif isinstance(node, ast.Try):
            if node.finalbody or node.orelse:
                raise GeneratedCodeRejected("try form")
        elif isinstance(node, ast.NamedExpr):
            if not node.target.id.startswith("t_"):
                raise GeneratedCodeRejected("walrus target")
        elif isinstance(node, ast.FunctionDef):
            if node.decorator_list or node.returns or node is not tree.body[0]:
                raise GeneratedCodeRejected("function form")
        elif isinstance(node, ast.arguments):
            if node.vararg or node.kwarg or node.kwonlyargs or node.kw_defaults or node.posonlyargs:
                raise GeneratedCodeRejected("argument form")
            for d in node.defaults:
                if not (isinstance(d, ast.Constant) and d.value is Ellipsis):
                    raise GeneratedCodeRejected("argument default")
        elif isinstance(node, ast.arg):
            if not node.arg.startswith("v_") or node.annotation is not None:
                raise GeneratedCodeRejected("argument name")
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        raise GeneratedCodeRejected("module form")
