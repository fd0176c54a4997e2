"""Deluge syntax tree -> Python ``ast`` -> code object (not a tree-walking interpreter).

Generated code holds only mangled locals (``v_<name>``, temporaries ``t_<n>``), constants and
calls of runtime helpers (``rt_<name>``), which every execution binds afresh (runtime.py). Each
node carries the Deluge line and column, so tracebacks of the generated code give the Deluge
location of a failure without passing locations around (runtime.locate).

Statement counting: every simple statement calls ``rt_tick()``; a loop's per-iteration charge
includes the simple statements that open its body, so tight loops pay one tick per iteration.
"""

from __future__ import annotations

import ast
import gc
import hashlib
import sys
from collections.abc import Sequence
from typing import Any, Final, TypeVar

from . import nodes as n
from .analysis import INT, STR, Facts, analyse
from .errors import DelugeSyntaxError
from .parser import parse
from .program import Program
from .registry import MAX_FAST_ARITY
from .validator import validate

COMPILER_VERSION: Final = "1"
NUMBER_MIN: Final = -(2**63)
NUMBER_MAX: Final = 2**63 - 1

_BINARY_HELPERS: Final = {
    "+": "rt_add", "-": "rt_sub", "*": "rt_mul", "/": "rt_div", "%": "rt_mod",
    "==": "rt_eq", "!=": "rt_ne", "<": "rt_lt", "<=": "rt_le", ">": "rt_gt", ">=": "rt_ge",
}  # fmt: skip
_PY_BINOP: Final = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult}
_PY_CMP: Final = {
    "==": ast.Eq,
    "!=": ast.NotEq,
    "<": ast.Lt,
    "<=": ast.LtE,
    ">": ast.Gt,
    ">=": ast.GtE,
}
_SIMPLE: Final = (n.Assign, n.ExprStmt, n.Info, n.Return, n.Throw, n.Break, n.Continue)
_COMPARISONS: Final = frozenset(_PY_CMP)


_N = TypeVar("_N", bound=ast.AST)
_LOAD: Final = ast.Load()  # expression contexts carry no data and can be shared
_STORE: Final = ast.Store()


class _Loc:
    """Stamp ast nodes with a Deluge location (1-based column, stored as given)."""

    __slots__ = ("col", "kw", "line")

    def __init__(self, line: int, col: int) -> None:
        self.line, self.col = line, col
        self.kw = {"lineno": line, "end_lineno": line, "col_offset": col, "end_col_offset": col}

    def __call__(self, node: _N) -> _N:
        # Every node we stamp is a stmt or expr; attributes set generically for all of them.
        vars(node).update(self.kw)
        return node


def mark_charged_ahead(stmts: list[ast.stmt], ahead: int) -> None:
    """Record in the end column how many statements were charged ahead of this one.

    A loop iteration pays for the simple statements opening its body before they run. If one of
    them fails, the runtime reads this mark from the failing instruction's position and gives
    back the statements that never ran, so counts stay exact (runtime.Execution.refund).
    """
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.stmt | ast.expr):
                node.end_col_offset = node.col_offset + 1 + ahead


class Compiler:
    def __init__(self, module: n.Module, facts: Facts) -> None:
        self.module = module
        self.facts = facts
        self.temp = 0
        self.spellings: dict[str, str] = {}
        self.method_helpers: set[tuple[str, int]] = set()
        # Memos by node id (nodes outlive the compiler run): static facts per expression.
        self._types: dict[int, str | None] = {}
        self._small: dict[int, bool] = {}
        self._keep: list[n.Expr] = []
        self.top_index = -1  # index of the top-level statement being compiled

    # --- helpers ----------------------------------------------------------------------------
    def new_temp(self) -> str:
        self.temp += 1
        return f"t_{self.temp}"

    @staticmethod
    def call(loc: _Loc, helper: str, args: Sequence[ast.expr]) -> ast.Call:
        kw = loc.kw
        return ast.Call(func=ast.Name(helper, _LOAD, **kw), args=list(args), keywords=[], **kw)

    @staticmethod
    def const(loc: _Loc, value: Any) -> ast.Constant:
        line, col = loc.line, loc.col
        return ast.Constant(value, lineno=line, end_lineno=line, col_offset=col, end_col_offset=col)

    @staticmethod
    def var(loc: _Loc, name: str, store: bool = False) -> ast.Name:
        return ast.Name(f"v_{name}", _STORE if store else _LOAD, **loc.kw)

    def tick(self, node: n.Node) -> ast.stmt:
        loc = _Loc(node.line, node.col)
        return loc(ast.Expr(self.call(loc, "rt_tick", [])))

    def static_type(self, e: n.Expr) -> str | None:
        key = id(e)
        if key in self._types:
            return self._types[key]
        t = self._static_type(e)
        self._types[key] = t
        return t

    def _static_type(self, e: n.Expr) -> str | None:
        """NUMBER/TEXT proven for this expression at this point (see analysis.py)."""
        if isinstance(e, n.Literal):
            v = e.value
            return INT if type(v) is int else STR if type(v) is str else None
        if isinstance(e, n.Name):
            t = self.facts.types.get(e.name)
            if t is None:
                return None
            first = self.facts.first_top.get(e.name)  # type: ignore[attr-defined]
            if first is not None and first < self.top_index:
                return t
            if e.name in self.loop_index_vars:
                return t
            return None
        if isinstance(e, n.Binary) and e.op in ("+", "-", "*"):
            lt, rt = self.static_type(e.left), self.static_type(e.right)
            if e.op == "+" and STR in (lt, rt):
                return STR
            if lt == INT and rt == INT:
                return INT
        if isinstance(e, n.Unary) and e.op == "-" and self.static_type(e.operand) == INT:
            return INT
        if isinstance(e, n.MethodCall):
            from .analysis import INT_METHODS

            if e.name.lower() in INT_METHODS:
                return INT
            if e.name.lower() in ("tostring", "totext") and not e.args:
                return STR
        return None

    @staticmethod
    def is_boolean(e: n.Expr) -> bool:
        if isinstance(e, n.Binary):
            return e.op in _COMPARISONS
        if isinstance(e, n.Logical):
            return True
        if isinstance(e, n.Unary):
            return e.op == "!"
        if isinstance(e, n.Literal):
            return type(e.value) is bool
        return False

    # --- module -----------------------------------------------------------------------------
    def compile_module(self, filename: str) -> tuple[ast.Module, list[str]]:
        self.loop_index_vars: set[str] = set()
        header = self.module.header
        loc = _Loc(self.module.line, self.module.col)
        params = [p.name for p in header.params] if header else list(self.facts.implicit_args)
        body: list[ast.stmt] = []
        for name in sorted(self.facts.variables - set(params)):
            body.append(loc(ast.Assign([self.var(loc, name, store=True)], self.const(loc, None))))
        body.extend(self.block(self.module.body, top=True))
        body.append(loc(ast.Return(self.const(loc, None))))
        args = ast.arguments(
            posonlyargs=[],
            args=[loc(ast.arg(f"v_{p}")) for p in params],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[] if header else [self.const(loc, ...) for _ in params],
        )
        fn = loc(
            ast.FunctionDef(
                name="deluge_main",
                args=args,
                body=body,
                decorator_list=[],
                returns=None,
            )
        )
        if sys.version_info >= (3, 12):
            fn.type_params = []
        mod = ast.Module(body=[fn], type_ignores=[])
        return mod, params

    def block(self, stmts: list[n.Stmt], top: bool = False, precharged: int = 0) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for i, s in enumerate(stmts):
            if top:
                self.top_index = i
            compiled = self.stmt(s, ticked=i < precharged)
            ahead = precharged - 1 - i  # statements of the group charged before this one ran
            if ahead > 0:
                mark_charged_ahead(compiled, ahead)
            out.extend(compiled)
        if not out:
            out.append(ast.Pass(lineno=1, col_offset=0, end_lineno=1, end_col_offset=0))
        return out

    @staticmethod
    def leading_simple(stmts: list[n.Stmt]) -> int:
        count = 0
        for s in stmts:
            if not isinstance(s, _SIMPLE):
                break
            count += 1
            if isinstance(s, n.Return | n.Throw | n.Break | n.Continue):
                break
        return count

    # --- statements -------------------------------------------------------------------------
    def stmt(self, s: n.Stmt, ticked: bool = False) -> list[ast.stmt]:
        loc = _Loc(s.line, s.col)
        pre = [] if ticked else [self.tick(s)]
        if isinstance(s, n.Assign):
            return pre + self.assign(s, loc)
        if isinstance(s, n.ExprStmt):
            return pre + [loc(ast.Expr(self.expr(s.expr)))]
        if isinstance(s, n.Info):
            return pre + [loc(ast.Expr(self.call(loc, "rt_info", [self.expr(s.value)])))]
        if isinstance(s, n.Return):
            value = self.expr(s.value) if s.value is not None else self.const(loc, None)
            return pre + [loc(ast.Return(value))]
        if isinstance(s, n.Throw):
            return pre + [loc(ast.Expr(self.call(loc, "rt_throw", [self.expr(s.value)])))]
        if isinstance(s, n.Break):
            return pre + [loc(ast.Break())]
        if isinstance(s, n.Continue):
            return pre + [loc(ast.Continue())]
        if isinstance(s, n.If):
            return [self.if_stmt(s, 0)]
        if isinstance(s, n.ForEach):
            return [self.for_stmt(s, loc)]
        if isinstance(s, n.TryCatch):
            return [self.try_stmt(s, loc)]
        raise AssertionError(f"unknown statement {type(s).__name__}")

    def assign(self, s: n.Assign, loc: _Loc) -> list[ast.stmt]:
        value: n.Expr = s.value
        if s.op != "=":
            value = n.Binary(s.line, s.col, s.op[0], n.Name(s.line, s.col, s.target), s.value)
            self._keep.append(value)  # keeps its id unique while the memos above hold it
        target = self.var(loc, s.target, store=True)
        # `s = s + e` on a proven TEXT: append in place (CPython resizes the string when the
        # variable holds the only reference), with the size check and text form in rt_cat.
        if (
            isinstance(value, n.Binary)
            and value.op == "+"
            and isinstance(value.left, n.Name)
            and value.left.name == s.target
            and self.static_type(value.left) == STR
        ):
            rhs = self.call(loc, "rt_cat", [self.var(loc, s.target), self.expr(value.right)])
            return [
                loc(ast.Assign([target], loc(ast.BinOp(self.var(loc, s.target), ast.Add(), rhs))))
            ]
        return [loc(ast.Assign([target], self.expr(value)))]

    def condition(self, cond: n.Expr) -> ast.expr:
        loc = _Loc(cond.line, cond.col)
        test = self.expr(cond)
        if not self.is_boolean(cond):
            test = self.call(loc, "rt_cond", [test])
        return loc(ast.BoolOp(ast.And(), [self.call(loc, "rt_tick", []), test]))

    def if_stmt(self, s: n.If, i: int) -> ast.If:
        cond, body = s.branches[i]
        loc = _Loc(cond.line, cond.col)
        orelse: list[ast.stmt] = []
        if i + 1 < len(s.branches):
            orelse = [self.if_stmt(s, i + 1)]
        elif s.orelse is not None:
            orelse = self.block(s.orelse)
        return loc(ast.If(self.condition(cond), self.block(body), orelse))

    def for_stmt(self, s: n.ForEach, loc: _Loc) -> ast.For:
        cost = 1 + self.leading_simple(s.body)
        helper = "rt_each_index" if s.index else "rt_each"
        it = self.call(loc, helper, [self.expr(s.iterable), self.const(loc, cost)])
        added = s.index and s.var not in self.loop_index_vars
        if added:
            self.loop_index_vars.add(s.var)
        body = self.block(s.body, precharged=cost - 1)
        if added:
            self.loop_index_vars.discard(s.var)
        return loc(ast.For(target=self.var(loc, s.var, store=True), iter=it, body=body, orelse=[]))

    def try_stmt(self, s: n.TryCatch, loc: _Loc) -> ast.Try:
        temp = self.new_temp()
        handler_body: list[ast.stmt] = [
            loc(
                ast.Assign(
                    [self.var(loc, s.var, store=True)],
                    self.call(loc, "rt_caught", [loc(ast.Name(temp, ast.Load()))]),
                )
            )
        ]
        handler_body.extend(self.block(s.handler))
        handler = loc(
            ast.ExceptHandler(
                type=loc(ast.Name("rt_RuntimeError", ast.Load())), name=temp, body=handler_body
            )
        )
        try_body = self.block(s.body)
        return loc(ast.Try(body=try_body, handlers=[handler], orelse=[], finalbody=[]))

    # --- expressions ------------------------------------------------------------------------
    def expr(self, e: n.Expr) -> ast.expr:
        loc = _Loc(e.line, e.col)
        if isinstance(e, n.Literal):
            return self.const(loc, e.value)
        if isinstance(e, n.Name):
            low = e.name.lower()
            if (
                e.name not in self.facts.variables
                and e.name not in self.facts.params
                and e.name not in self.facts.implicit_args
            ):
                if low in ("now", "today"):
                    return self.call(loc, "rt_now" if low == "now" else "rt_today", [])
            if e.name in self.facts.implicit_args and e.name not in self.facts.variables:
                return self.call(loc, "rt_req", [self.var(loc, e.name), self.const(loc, e.name)])
            return self.var(loc, e.name)
        if isinstance(e, n.InputArg):
            if e.name in self.facts.implicit_args and e.name not in self.facts.variables:
                return self.call(loc, "rt_req", [self.var(loc, e.name), self.const(loc, e.name)])
            return self.var(loc, e.name)
        if isinstance(e, n.InputMap):
            names = (
                [p.name for p in self.module.header.params]
                if self.module.header
                else self.facts.implicit_args
            )
            args: list[ast.expr] = []
            for p in names:
                args += [self.const(loc, p), self.var(loc, p)]
            return self.call(loc, "rt_input", args)
        if isinstance(e, n.DateLiteral):
            return self.call(loc, "rt_date", [self.const(loc, e.text)])
        if isinstance(e, n.ListLiteral):
            return self.call(loc, "rt_list", [self.expr(x) for x in e.items])
        if isinstance(e, n.MapLiteral):
            kv: list[ast.expr] = []
            for k, v in e.entries:
                kv += [self.expr(k), self.expr(v)]
            return self.call(loc, "rt_map", kv)
        if isinstance(e, n.EmptyCollection):
            return self.call(loc, "rt_coll", [])
        if isinstance(e, n.Unary):
            if e.op == "!":
                return self.call(loc, "rt_not", [self.expr(e.operand)])
            return self.call(loc, "rt_neg" if e.op == "-" else "rt_pos", [self.expr(e.operand)])
        if isinstance(e, n.Binary):
            return self.binary(e, loc)
        if isinstance(e, n.Logical):
            sides: list[ast.expr] = []
            for side in (e.left, e.right):
                x = self.expr(side)
                if not self.is_boolean(side):
                    x = self.call(_Loc(side.line, side.col), "rt_cond", [x])
                sides.append(x)
            return loc(ast.BoolOp(ast.And() if e.op == "&&" else ast.Or(), sides))
        if isinstance(e, n.IfExpr):
            test = self.expr(e.cond)
            if not self.is_boolean(e.cond):
                test = self.call(loc, "rt_cond", [test])
            return loc(ast.IfExp(test, self.expr(e.then), self.expr(e.other)))
        if isinstance(e, n.IfNull):
            temp = self.new_temp()
            walrus = loc(ast.NamedExpr(loc(ast.Name(temp, ast.Store())), self.expr(e.value)))
            return loc(
                ast.IfExp(
                    self.call(loc, "rt_isnull", [walrus]),
                    self.expr(e.fallback),
                    loc(ast.Name(temp, ast.Load())),
                )
            )
        if isinstance(e, n.MethodCall):
            low = e.name.lower()
            self.spellings.setdefault(low, e.name)
            recv = self.expr(e.receiver)
            args = [self.expr(a) for a in e.args]
            if len(args) <= MAX_FAST_ARITY:
                # One dispatcher per (name, arity): a dict lookup on the receiver's type.
                helper = f"rt_m{len(args)}_{low}"
                self.method_helpers.add((low, len(args)))
                return self.call(loc, helper, [recv, *args])
            return self.call(loc, "rt_call", [recv, self.const(loc, low), *args])
        if isinstance(e, n.FunctionCall):
            low = e.name.lower()
            self.spellings.setdefault(low, e.name)
            return self.call(loc, "rt_fn", [self.const(loc, low), *(self.expr(a) for a in e.args)])
        if isinstance(e, n.Constructor):
            if e.kind == "map":
                return self.call(loc, "rt_newmap", [self.expr(a) for a in e.args])
            if e.elem_type is not None:
                return self.call(
                    loc,
                    "rt_typedlist",
                    [self.const(loc, e.elem_type), *(self.expr(a) for a in e.args)],
                )
            return self.call(loc, "rt_newlist", [self.expr(a) for a in e.args])
        if isinstance(e, n.SystemVar):
            return self.call(loc, "rt_sys", [self.const(loc, e.name)])
        if isinstance(e, n.TaskCall):
            args = [self.expr(a) for a in e.args]
            if e.namespace == "crm":
                return self.call(loc, "rt_crm", [self.const(loc, e.task.lower()), *args])
            if e.namespace == "encryption":
                return self.call(loc, "rt_enc", [self.const(loc, e.task.lower()), *args])
            return self.call(loc, "rt_unsupported", [self.const(loc, e.path), *args])
        if isinstance(e, n.FunctionRef):
            return self.call(
                loc,
                "rt_callfn",
                [
                    self.const(loc, e.category),
                    self.const(loc, e.api_name),
                    *(self.expr(a) for a in e.args),
                ],
            )
        if isinstance(e, n.TaskBlock):
            parts: list[ast.expr] = [self.const(loc, e.task)]
            for key, val in e.params:
                parts += [self.const(loc, key), self.expr(val)]
            return self.call(loc, "rt_task", parts)
        raise AssertionError(f"unknown expression {type(e).__name__}")

    def small_text(self, e: n.Expr) -> bool:
        """A TEXT of bounded length built from text literals and NUMBERs only."""
        key = id(e)
        if key not in self._small:
            self._small[key] = self._small_text(e)
        return self._small[key]

    def _small_text(self, e: n.Expr) -> bool:
        if isinstance(e, n.Literal):
            return type(e.value) is str and len(e.value) <= 1024
        if isinstance(e, n.Binary) and e.op == "+" and self.static_type(e) == STR:
            return all(self.small_text(x) or self.static_type(x) == INT for x in (e.left, e.right))
        return False

    def text_part(self, e: n.Expr) -> ast.expr:
        if self.static_type(e) == INT:
            loc = _Loc(e.line, e.col)
            return self.call(loc, "rt_istr", [self.expr(e)])
        return self.expr(e)

    def binary(self, e: n.Binary, loc: _Loc) -> ast.expr:
        if e.op == "+" and self.small_text(e):
            # Short text from literals and NUMBERs: plain str concatenation, no size risk.
            return loc(ast.BinOp(self.text_part(e.left), ast.Add(), self.text_part(e.right)))
        lt, rt = self.static_type(e.left), self.static_type(e.right)
        left, right = self.expr(e.left), self.expr(e.right)
        if lt == INT and rt == INT and e.op in _PY_BINOP:
            # Plain int arithmetic with the NUMBER range check (D-03) inline.
            temp = self.new_temp()
            result = loc(
                ast.NamedExpr(
                    loc(ast.Name(temp, ast.Store())), loc(ast.BinOp(left, _PY_BINOP[e.op](), right))
                )
            )
            in_range = loc(
                ast.Compare(
                    self.const(loc, NUMBER_MIN),
                    [ast.LtE(), ast.LtE()],
                    [result, self.const(loc, NUMBER_MAX)],
                )
            )
            return loc(
                ast.IfExp(in_range, loc(ast.Name(temp, ast.Load())), self.call(loc, "rt_ovf", []))
            )
        if e.op in _PY_CMP and lt is not None and lt == rt:
            return loc(ast.Compare(left, [_PY_CMP[e.op]()], [right]))
        return self.call(loc, _BINARY_HELPERS[e.op], [left, right])


def compile_source(source: str, name: str = "main", filename: str | None = None) -> Program:
    """Parse, analyse, generate, validate and compile one function file.

    The cyclic garbage collector is paused meanwhile: compiling builds tens of thousands of
    short-lived, acyclic objects, and collection passes over them cost about a sixth of the time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _compile_source(source, name, filename)
    finally:
        if was_enabled:
            gc.enable()


def _compile_source(source: str, name: str, filename: str | None) -> Program:
    from .runtime import HELPER_NAMES

    module = parse(source)
    try:
        facts = analyse(module)
    except DelugeSyntaxError as exc:
        lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        exc.source_line = lines[exc.line - 1] if exc.line and 0 < exc.line <= len(lines) else ""  # type: ignore[operator]
        raise
    comp = Compiler(module, facts)
    header = module.header
    api_name = header.api_name if header else name
    tree, params = comp.compile_module(filename or f"<deluge:{api_name}>")
    dispatchers = frozenset(f"rt_m{n}_{name}" for name, n in comp.method_helpers)
    validate(tree, HELPER_NAMES | dispatchers)
    code = compile(tree, filename or f"<deluge:{api_name}>", "exec", dont_inherit=True, optimize=0)
    fn_code = next(c for c in code.co_consts if hasattr(c, "co_code"))
    return Program(
        api_name=api_name,
        category=header.category if header else "standalone",
        return_type=header.return_type if header else None,
        params=[(p.name, p.type_name) for p in header.params] if header else [],
        param_positions=[(p.line, p.col) for p in header.params] if header else [],
        implicit_args=list(facts.implicit_args),
        arg_names=params,
        code=fn_code,
        source=source,
        source_hash=hashlib.sha256(
            (COMPILER_VERSION + source).encode("utf-8", "surrogatepass")
        ).hexdigest(),
        spellings=comp.spellings,
        method_helpers=frozenset(comp.method_helpers),
    )
