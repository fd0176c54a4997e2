"""Static facts about a parsed function, used by the compiler.

- Which names are variables, arguments or implicit arguments, and reads of names never assigned
  (``Variable 'x' is not defined``, D-16).
- Which variables provably hold a NUMBER or a TEXT wherever they are read: an optimistic fixpoint
  over every assignment, restricted to reads that follow a definite assignment. The compiler uses
  this to emit plain Python arithmetic and in-place text appends for those variables only; every
  other operation goes through the runtime's checked helpers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from . import nodes as n

INT: Final = "int"
STR: Final = "str"
BOOL: Final = "bool"
TOP: Final = "top"  # not known yet during the fixpoint

# Methods whose result is a NUMBER whenever they return (whatever the receiver).
INT_METHODS: Final = frozenset(
    "size length len indexof lastindexof find tonumber tolong getoccurencecount "
    "getoccurrencecount".split()
)
# Methods whose result is a TEXT when the receiver is a TEXT.
STR_METHODS_ON_TEXT: Final = frozenset(
    "trim ltrim rtrim touppercase tolowercase upper lower substring subtext mid concat left right "
    "leftpad rightpad repeat reverse proper removefirstoccurence removefirstoccurrence "
    "removelastoccurence removelastoccurrence getalpha getalphanumeric removeallalpha "
    "removeallalphanumeric replaceall replacefirst replaceallignorecase replacefirstignorecase "
    "texttohex".split()
)


@dataclass
class Facts:
    variables: set[str] = field(default_factory=set)  # assigned somewhere (incl. loop/catch vars)
    params: list[str] = field(default_factory=list)
    implicit_args: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)  # var -> INT / STR
    uses_now: bool = False  # `now` / `today` read without being variables


def walk_statements(stmts: list[n.Stmt]) -> Iterator[n.Stmt]:
    stack = list(reversed(stmts))
    while stack:
        s = stack.pop()
        yield s
        if isinstance(s, n.If):
            children: list[n.Stmt] = []
            for _, body in s.branches:
                children.extend(body)
            if s.orelse:
                children.extend(s.orelse)
            stack.extend(reversed(children))
        elif isinstance(s, n.ForEach):
            stack.extend(reversed(s.body))
        elif isinstance(s, n.TryCatch):
            stack.extend(reversed(s.body + s.handler))


def stmt_exprs(s: n.Stmt) -> list[n.Expr]:
    if isinstance(s, n.Assign | n.Info | n.Throw):
        return [s.value]
    if isinstance(s, n.ExprStmt):
        return [s.expr]
    if isinstance(s, n.Return):
        return [s.value] if s.value is not None else []
    if isinstance(s, n.If):
        return [c for c, _ in s.branches]
    if isinstance(s, n.ForEach):
        return [s.iterable]
    return []


def child_exprs(e: n.Expr) -> list[n.Expr]:
    if isinstance(e, n.ListLiteral):
        return list(e.items)
    if isinstance(e, n.MapLiteral):
        return [x for kv in e.entries for x in kv]
    if isinstance(e, n.Unary):
        return [e.operand]
    if isinstance(e, n.Binary | n.Logical):
        return [e.left, e.right]
    if isinstance(e, n.IfExpr):
        return [e.cond, e.then, e.other]
    if isinstance(e, n.IfNull):
        return [e.value, e.fallback]
    if isinstance(e, n.MethodCall):
        return [e.receiver, *e.args]
    if isinstance(e, n.FunctionCall | n.Constructor | n.TaskCall | n.FunctionRef):
        return list(e.args)
    if isinstance(e, n.TaskBlock):
        return [v for _, v in e.params]
    return []


def walk_expr(e: n.Expr) -> Iterator[n.Expr]:
    stack = [e]
    while stack:
        x = stack.pop()
        yield x
        stack.extend(child_exprs(x))


def reads_in(stmts: list[n.Stmt]) -> Iterator[n.Name | n.InputArg]:
    for s in walk_statements(stmts):
        for e in stmt_exprs(s):
            for x in walk_expr(e):
                if isinstance(x, n.Name | n.InputArg):
                    yield x


def analyse(module: n.Module) -> Facts:
    from .errors import DelugeSyntaxError

    facts = Facts()
    header = module.header
    facts.params = [p.name for p in header.params] if header else []
    assigns: dict[str, list[n.Expr | str]] = {}
    untyped: set[str] = set()

    for s in walk_statements(module.body):
        if isinstance(s, n.Assign):
            facts.variables.add(s.target)
            if s.op == "=":
                assigns.setdefault(s.target, []).append(s.value)
            else:
                assigns.setdefault(s.target, []).append(
                    n.Binary(s.line, s.col, s.op[0], n.Name(s.line, s.col, s.target), s.value)
                )
        elif isinstance(s, n.ForEach):
            facts.variables.add(s.var)
            if s.index:
                assigns.setdefault(s.var, []).append(INT)
            else:
                untyped.add(s.var)
        elif isinstance(s, n.TryCatch):
            facts.variables.add(s.var)
            untyped.add(s.var)

    declared = set(facts.params) | facts.variables
    implicit: dict[str, None] = {}
    for r in reads_in(module.body):
        name = r.name
        if name in declared:
            continue
        if isinstance(r, n.Name) and name.lower() in ("now", "today"):
            facts.uses_now = True
            continue
        if header is not None:
            src_line = ""
            raise DelugeSyntaxError(
                f"Variable '{name}' is not defined", r.line, r.col, source_line=src_line
            )
        implicit[name] = None
    facts.implicit_args = list(implicit)

    # Definite assignment: first top-level statement index assigning each variable.
    first_top: dict[str, int] = {}
    for i, s in enumerate(module.body):
        if isinstance(s, n.Assign) and s.op == "=" and s.target not in first_top:
            first_top[s.target] = i

    candidates = {
        v for v in assigns if v not in untyped and v not in facts.params and v not in implicit
    }
    types: dict[str, str] = {v: TOP for v in candidates}

    def expr_type(e: n.Expr) -> str | None:
        if isinstance(e, n.Literal):
            v = e.value
            if type(v) is int:
                return INT
            if type(v) is str:
                return STR
            if type(v) is bool:
                return BOOL
            return None
        if isinstance(e, n.Name):
            return types.get(e.name)
        if isinstance(e, n.Binary):
            lt, rt = expr_type(e.left), expr_type(e.right)
            if e.op == "+":
                if lt == STR or rt == STR:
                    return STR
                if lt == INT and rt == INT:
                    return INT
                if TOP in (lt, rt) and (lt in (INT, TOP) and rt in (INT, TOP)):
                    return TOP
                if TOP in (lt, rt):
                    return TOP
                return None
            if e.op in ("-", "*", "%"):
                if lt == INT and rt == INT:
                    return INT
                if lt in (INT, TOP) and rt in (INT, TOP):
                    return TOP
                return None
            if e.op in ("==", "!=", "<", "<=", ">", ">="):
                return BOOL
            return None
        if isinstance(e, n.Logical):
            return BOOL
        if isinstance(e, n.Unary):
            if e.op == "!":
                return BOOL
            ot = expr_type(e.operand)
            return ot if ot in (INT, TOP) else None
        if isinstance(e, n.MethodCall):
            name = e.name.lower()
            if name in INT_METHODS:
                return INT
            if name in ("tostring", "totext") and not e.args:
                return STR
            if name in STR_METHODS_ON_TEXT:
                rt2 = expr_type(e.receiver)
                return STR if rt2 == STR else (TOP if rt2 == TOP else None)
            return None
        if isinstance(e, n.FunctionCall):
            return INT if e.name.lower() in ("len", "length") else None
        if isinstance(e, n.IfExpr):
            a, b = expr_type(e.then), expr_type(e.other)
            if a == b:
                return a
            if TOP in (a, b):
                return b if a == TOP else a
            return None
        return None

    changed = True
    while changed:
        changed = False
        for v in candidates:
            result: str | None = TOP
            for a in assigns[v]:
                t = a if isinstance(a, str) else expr_type(a)
                if t is None or (result not in (TOP, t) and t != TOP):
                    result = None
                    break
                if t != TOP:
                    result = t
            if result is None:
                new = None
            else:
                new = result
            if new != types.get(v):
                if new is None:
                    types.pop(v, None)
                else:
                    types[v] = new
                changed = True
        candidates = set(types)
    facts.types = {v: t for v, t in types.items() if t in (INT, STR)}
    facts.first_top = first_top  # type: ignore[attr-defined]
    # Compile-time errors that need only the tree (after the variable checks, as before).
    from .static_checks import check_static

    check_static(module)
    return facts
