"""Deluge parser: tokens -> syntax tree (nodes.py).

Recursive descent for statements, an explicit operator stack for binary operators (so the
Python stack grows by at most three frames per nesting level, never with operator chains),
and a nesting limit of 200 levels checked before recursing (security.md LM-5).
Every error is one ``DelugeSyntaxError`` with line, column, what was expected and what was found.
"""

from __future__ import annotations

from typing import Final

from . import nodes as n
from .errors import DelugeSyntaxError
from .lexer import Lexer, T, Token
from .values import NUMBER_MAX

RESERVED: Final = frozenset(
    "bool collection date else false float for from if ifnull in int is list map null permissions "
    "portal reload return string thisapp true void zoho break continue info try catch throw".split()
)
NOT_DELUGE: Final = {
    "while": "'while' loops do not exist in Deluge; use 'for each'",
    "do": "'do' loops do not exist in Deluge; use 'for each'",
    "switch": "'switch' does not exist in Deluge; use 'if' / 'else if'",
    "case": "'case' does not exist in Deluge; use 'if' / 'else if'",
    "function": "'function' is not Deluge; functions are separate files called as standalone.name(...)",
    "var": "'var' is not Deluge; assign the variable directly: x = 1;",
    "let": "'let' is not Deluge; assign the variable directly: x = 1;",
    "const": "'const' is not Deluge; assign the variable directly: x = 1;",
    "def": "'def' is not Deluge",
    "import": "'import' is not Deluge",
    "class": "'class' is not Deluge",
}
TYPE_NAMES: Final = {
    "string": "String", "text": "String",
    "int": "Int", "long": "Int", "integer": "Int", "number": "Int", "bigint": "Int",
    "decimal": "Decimal", "float": "Decimal", "double": "Decimal",
    "bool": "Bool", "boolean": "Bool",
    "date": "Date", "datetime": "DateTime",
    "map": "Map", "collection": "Map", "keyvalue": "Map",
    "list": "List",
}  # fmt: skip
CATEGORIES: Final = {
    "standalone": "standalone", "automation": "automation", "button": "button",
    "related_list": "related_list", "schedule": "schedule", "validation": "validation",
    "validation_rule": "validation",
}  # fmt: skip
CALL_NAMESPACES: Final = frozenset(CATEGORIES) | {"thisapp"}
TASK_KEYS: Final = {
    "invokeurl": {
        "url", "type", "headers", "content-type", "parameters", "body", "files", "connection",
        "detailed", "response-format", "response-decoding",
    },
    "sendmail": {"from", "to", "cc", "bcc", "reply to", "subject", "message", "content-type", "attachments"},
    "invokeapi": {"service", "path", "type", "parameters", "body", "headers", "connection"},
}  # fmt: skip
KEY_ALIASES: Final = {
    "content type": "content-type", "reply-to": "reply to", "replyto": "reply to",
    "response format": "response-format", "response decoding": "response-decoding",
    "contenttype": "content-type",
}  # fmt: skip
BARE_CONSTANTS: Final = {
    "type": {"get", "post", "put", "patch", "delete", "head"},
    "response-format": {"file", "text"},
    "service": {"zohocrm", "crm"},
}
SYSTEM_VARIABLES: Final = frozenset(
    "currentdate currenttime loginuser loginuserid adminuser adminuserid appname appuri ipaddress".split()
)
PRECEDENCE: Final = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
ASSIGN_OPS: Final = frozenset({"=", "+=", "-=", "*=", "/=", "%="})
MAX_NESTING: Final = 200
MAX_SOURCE_BYTES: Final = 1024 * 1024


class Parser:
    def __init__(self, source: str, *, max_nesting: int = MAX_NESTING) -> None:
        self.lexer = Lexer(source)
        self.toks = self.lexer.tokens()
        self.i = 0
        self.depth = 0
        self.max_nesting = max_nesting
        self.loop_depth = 0

    # --- token helpers ----------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        j = min(self.i + k, len(self.toks) - 1)
        return self.toks[j]

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind is not T.EOF:
            self.i += 1
        return t

    def error(
        self, message: str, tok: Token | None = None, expected: str | None = None
    ) -> DelugeSyntaxError:
        tok = tok or self.tok
        return self.lexer.error(message, tok.line, tok.col, expected=expected, found=tok.describe())

    def unexpected(self, expected: str, tok: Token | None = None) -> DelugeSyntaxError:
        tok = tok or self.tok
        return self.error(f"Unexpected {tok.describe()} — expected {expected}", tok, expected)

    def is_op(self, op: str, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind is T.OP and tok.value == op

    def is_kw(self, word: str, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind is T.IDENT and tok.value.lower() == word

    def expect_op(self, op: str) -> Token:
        if not self.is_op(op):
            raise self.unexpected(f"'{op}'")
        return self.advance()

    def expect_kw(self, word: str) -> Token:
        if not self.is_kw(word):
            raise self.unexpected(f"'{word}'")
        return self.advance()

    def expect_ident(self, what: str = "a name") -> Token:
        if self.tok.kind is not T.IDENT:
            raise self.unexpected(what)
        return self.advance()

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > self.max_nesting:
            raise self.error(f"Nesting exceeds the limit of {self.max_nesting} levels", tok)

    def leave(self) -> None:
        self.depth -= 1

    # --- module -----------------------------------------------------------------------------
    def parse_module(self) -> n.Module:
        first = self.tok
        header = None
        if self.looks_like_header():
            header = self.parse_header()
            self.expect_op("{")
            body = self.parse_statements(until="}")
            self.expect_op("}")
            if self.tok.kind is not T.EOF:
                raise self.unexpected("end of file after the function body")
        else:
            body = self.parse_statements(until=None)
        return n.Module(first.line, first.col, header, body)

    def looks_like_header(self) -> bool:
        """``<type> <category>.<name>(``: a typed return and a category, not a statement."""
        t0, t1 = self.tok, self.peek()
        if t0.kind is not T.IDENT or t1.kind is not T.IDENT or not self.is_op(".", self.peek(2)):
            return False
        if self.peek(3).kind is not T.IDENT or not self.is_op("(", self.peek(4)):
            return False
        first = t0.value.lower()
        if first in ("return", "info", "throw"):
            return False
        return first in TYPE_NAMES or first == "void" or t1.value.lower() in CATEGORIES

    def parse_header(self) -> n.Header:
        rt = self.advance()
        ret = rt.value.lower()
        if ret == "void":
            return_type = "void"
        elif ret in TYPE_NAMES:
            return_type = TYPE_NAMES[ret]
        else:
            raise self.error(f"Invalid function header: unknown return type '{rt.value}'", rt)
        cat = self.advance()
        category = CATEGORIES.get(cat.value.lower())
        if category is None:
            raise self.error(f"Invalid function header: unknown category '{cat.value}'", cat)
        self.expect_op(".")
        name = self.expect_ident("the function's API name")
        self.expect_op("(")
        params: list[n.Param] = []
        if not self.is_op(")"):
            while True:
                tt = self.expect_ident("an argument type")
                tname = TYPE_NAMES.get(tt.value.lower())
                if tname is None:
                    raise self.error(f"Invalid function header: unknown type '{tt.value}'", tt)
                pn = self.expect_ident("an argument name")
                if pn.value.lower() in RESERVED:
                    raise self.error(f"'{pn.value}' is a reserved keyword", pn)
                if any(p.name == pn.value for p in params):
                    raise self.error(f"Argument '{pn.value}' is declared twice", pn)
                params.append(n.Param(tt.line, tt.col, tname, pn.value))
                if self.is_op(","):
                    self.advance()
                    continue
                break
        self.expect_op(")")
        return n.Header(rt.line, rt.col, return_type, category, name.value, params)

    # --- statements -------------------------------------------------------------------------
    def parse_statements(self, until: str | None) -> list[n.Stmt]:
        out: list[n.Stmt] = []
        while True:
            t = self.tok
            if t.kind is T.EOF:
                if until is not None:
                    raise self.unexpected(f"'{until}'")
                return out
            if until is not None and self.is_op(until):
                return out
            if self.is_op(";"):
                self.advance()
                continue
            out.append(self.parse_statement())

    def parse_block(self) -> list[n.Stmt]:
        open_tok = self.tok
        if not self.is_op("{"):
            raise self.unexpected("'{' (Deluge needs braces around every block)")
        self.enter(open_tok)
        self.advance()
        body = self.parse_statements(until="}")
        self.expect_op("}")
        self.leave()
        return body

    def end_simple(self) -> None:
        if self.is_op(";"):
            self.advance()
            return
        t = self.tok
        if self.is_op("++") or self.is_op("--"):
            raise self.error(
                f"'{t.value}' does not exist in Deluge; write x = x {t.value[0]} 1;", t
            )
        if self.is_op("?"):
            raise self.error(
                "The '?:' operator does not exist in Deluge; use if(condition, a, b)", t
            )
        raise self.unexpected("';'")

    def parse_statement(self) -> n.Stmt:
        t = self.tok
        if t.kind is T.IDENT:
            w = t.value.lower()
            if (
                w in NOT_DELUGE
                and not self.is_op("=", self.peek())
                and not self.is_op(".", self.peek())
            ):
                raise self.error(NOT_DELUGE[w], t)
            if w == "if":
                return self.parse_if()
            if w == "for":
                return self.parse_for()
            if w in ("break", "continue"):
                self.advance()
                if self.loop_depth == 0:
                    raise self.error(f"'{w}' outside a loop", t)
                self.end_simple()
                return n.Break(t.line, t.col) if w == "break" else n.Continue(t.line, t.col)
            if w == "return":
                self.advance()
                value = None if self.is_op(";") or self.is_op("}") else self.parse_expr()
                self.end_simple()
                return n.Return(t.line, t.col, value)
            if w == "info":
                self.advance()
                value = self.parse_expr()
                self.end_simple()
                return n.Info(t.line, t.col, value)
            if w == "throw":
                self.advance()
                value = self.parse_expr()
                self.end_simple()
                return n.Throw(t.line, t.col, value)
            if w == "try":
                return self.parse_try()
            if w in ("else", "catch"):
                raise self.error(
                    f"Unexpected '{t.value}' without a matching '{'if' if w == 'else' else 'try'}'",
                    t,
                )
            if w in TASK_KEYS and self.is_op("[", self.peek()):
                expr: n.Expr = self.parse_task_block()
                if self.is_op(";"):
                    self.advance()
                return n.ExprStmt(t.line, t.col, expr)
            # assignment: name op value / input.name op value
            target_tok = None
            if self.peek().kind is T.OP and self.peek().value in ASSIGN_OPS:
                target_tok = t
                self.advance()
            elif (
                w == "input"
                and self.is_op(".", self.peek())
                and self.peek(2).kind is T.IDENT
                and self.peek(3).kind is T.OP
                and self.peek(3).value in ASSIGN_OPS
            ):
                self.advance()
                self.advance()
                target_tok = self.advance()
            elif w == "zoho" and self.is_op(".", self.peek()):
                j = self.i
                while self.is_op(".", self.toks[j + 1]) and self.toks[j + 2].kind is T.IDENT:
                    j += 2
                nxt = self.toks[j + 1]
                if nxt.kind is T.OP and nxt.value in ASSIGN_OPS:
                    raise self.error("System variables zoho.* cannot be assigned", t)
            if target_tok is not None:
                name = target_tok.value
                if name.lower() in RESERVED and not (w == "input" and target_tok is not t):
                    raise self.error(f"'{name}' is a reserved keyword", target_tok)
                op = self.advance().value
                value = self.parse_expr_or_task()
                if isinstance(value, n.TaskBlock):
                    if self.is_op(";"):
                        self.advance()
                else:
                    self.end_simple()
                return n.Assign(target_tok.line, target_tok.col, name, op, value)
        if t.kind is T.OP and t.value in ("++", "--"):
            raise self.error(
                f"'{t.value}' does not exist in Deluge; write x = x {t.value[0]} 1;", t
            )
        expr = self.parse_expr()
        if self.is_op("++") or self.is_op("--"):
            t2 = self.tok
            raise self.error(
                f"'{t2.value}' does not exist in Deluge; write x = x {t2.value[0]} 1;", t2
            )
        if self.tok.kind is T.OP and self.tok.value in ASSIGN_OPS:
            raise self.error("Only a variable or input.<name> can be assigned", self.tok)
        if not isinstance(
            expr, n.MethodCall | n.FunctionCall | n.TaskCall | n.FunctionRef | n.TaskBlock
        ):
            raise self.lexer.error(
                "Improper statement",
                t.line,
                t.col,
                expected="a call or an assignment",
                found=t.describe(),
            )
        self.end_simple()
        return n.ExprStmt(t.line, t.col, expr)

    def parse_expr_or_task(self) -> n.Expr:
        if (
            self.tok.kind is T.IDENT
            and self.tok.value.lower() in TASK_KEYS
            and self.is_op("[", self.peek())
        ):
            return self.parse_task_block()
        return self.parse_expr()

    def parse_paren_condition(self) -> n.Expr:
        self.expect_op("(")
        cond = self.parse_expr()
        self.expect_op(")")
        return cond

    def parse_if(self) -> n.If:
        t = self.advance()
        branches = [(self.parse_paren_condition(), self.parse_block())]
        orelse = None
        while self.is_kw("else"):
            self.advance()
            if self.is_kw("if"):
                self.advance()
                branches.append((self.parse_paren_condition(), self.parse_block()))
            else:
                orelse = self.parse_block()
                break
        return n.If(t.line, t.col, branches, orelse)

    def parse_for(self) -> n.ForEach:
        t = self.advance()
        self.expect_kw("each")
        index = False
        if (
            self.is_kw("index")
            and self.peek().kind is T.IDENT
            and not self.is_kw("in", self.peek())
        ):
            self.advance()
            index = True
        var = self.expect_ident("the loop variable")
        if var.value.lower() in RESERVED:
            raise self.error(f"'{var.value}' is a reserved keyword", var)
        self.expect_kw("in")
        iterable = self.parse_expr()
        self.loop_depth += 1
        body = self.parse_block()
        self.loop_depth -= 1
        return n.ForEach(t.line, t.col, var.value, iterable, body, index)

    def parse_try(self) -> n.TryCatch:
        t = self.advance()
        body = self.parse_block()
        self.expect_kw("catch")
        self.expect_op("(")
        var = self.expect_ident("the error variable")
        if var.value.lower() in RESERVED:
            raise self.error(f"'{var.value}' is a reserved keyword", var)
        self.expect_op(")")
        handler = self.parse_block()
        return n.TryCatch(t.line, t.col, body, var.value, handler)

    def parse_task_block(self) -> n.TaskBlock:
        t = self.advance()
        task = t.value.lower()
        allowed = TASK_KEYS[task]
        self.expect_op("[")
        self.enter(t)
        params: list[tuple[str, n.Expr]] = []
        seen: set[str] = set()
        while not self.is_op("]"):
            if self.tok.kind is not T.IDENT:
                raise self.unexpected(f"a parameter of {task} or ']'")
            key_tok = self.tok
            words = [self.advance().value]
            seps: list[str] = []
            while not self.is_op(":"):
                if self.is_op("-") and self.peek().kind is T.IDENT:
                    self.advance()
                    seps.append("-")
                    words.append(self.advance().value)
                elif self.tok.kind is T.IDENT:
                    seps.append(" ")
                    words.append(self.advance().value)
                else:
                    raise self.unexpected("':' after the parameter name")
            self.advance()
            key = words[0].lower() + "".join(s + w.lower() for s, w in zip(seps, words[1:]))
            key = KEY_ALIASES.get(key, key)
            if key not in allowed:
                raise self.error(
                    f"Unknown parameter '{' '.join(words) if not seps or seps[0] == ' ' else key}' for {task}",
                    key_tok,
                )
            if key in seen:
                raise self.error(f"Parameter '{key}' is given twice", key_tok)
            seen.add(key)
            value: n.Expr = self.parse_expr()
            if isinstance(value, n.Name) and value.name.lower() in BARE_CONSTANTS.get(key, ()):
                value = n.Literal(
                    value.line,
                    value.col,
                    value.name.upper() if key != "service" else value.name.lower(),
                )
            params.append((key, value))
            if self.is_op(","):
                self.advance()  # tolerated separator
        self.advance()
        self.leave()
        return n.TaskBlock(t.line, t.col, task, params)

    # --- expressions ------------------------------------------------------------------------
    def parse_expr(self) -> n.Expr:
        start = self.tok
        self.enter(start)
        first, first_depth = self.parse_operand()
        operands: list[n.Expr] = [first]
        depths: list[int] = [first_depth]  # tree height of each operand: a chain nests too
        ops: list[Token] = []

        def reduce() -> None:
            op = ops.pop()
            right, left = operands.pop(), operands.pop()
            height = max(depths.pop(), depths.pop()) + 1
            if self.depth + height > self.max_nesting:
                raise self.error(f"Nesting exceeds the limit of {self.max_nesting} levels", op)
            depths.append(height)
            if op.value in ("&&", "||"):
                operands.append(n.Logical(op.line, op.col, op.value, left, right))
            else:
                operands.append(n.Binary(op.line, op.col, op.value, left, right))

        while self.tok.kind is T.OP and self.tok.value in PRECEDENCE:
            op = self.advance()
            prec = PRECEDENCE[op.value]
            while ops and PRECEDENCE[ops[-1].value] >= prec:
                reduce()
            ops.append(op)
            operand, height = self.parse_operand()
            operands.append(operand)
            depths.append(height)
        while ops:
            reduce()
        if self.tok.kind is T.OP and self.tok.value in ("&", "|"):
            raise self.error(
                f"'{self.tok.value}' is not a Deluge operator; use '{self.tok.value * 2}'"
            )
        self.leave()
        return operands[0]

    def parse_operand(self) -> tuple[n.Expr, int]:
        """One operand with its prefix operators and method chain, and its tree height."""
        prefixes: list[Token] = []
        while self.tok.kind is T.OP and self.tok.value in ("-", "+", "!"):
            prefixes.append(self.advance())
            if self.depth + len(prefixes) > self.max_nesting:
                raise self.error(f"Nesting exceeds the limit of {self.max_nesting} levels")
        if self.tok.kind is T.OP and self.tok.value in ("++", "--"):
            raise self.error(f"'{self.tok.value}' does not exist in Deluge")
        expr = self.parse_primary(negated=bool(prefixes) and prefixes[-1].value == "-")
        height = len(prefixes)
        while self.is_op("."):
            dot = self.advance()
            name = self.tok
            if name.kind is not T.IDENT:
                raise self.unexpected("a method name after '.'")
            self.advance()
            if not self.is_op("("):
                raise self.error(f"A method call needs parentheses: write .{name.value}()", name)
            height += 1  # each call of a chain is one level
            if self.depth + height > self.max_nesting:
                raise self.error(f"Nesting exceeds the limit of {self.max_nesting} levels", dot)
            args = self.parse_args()
            expr = n.MethodCall(name.line, name.col, expr, name.value, args)
        for p in reversed(prefixes):
            if (
                p.value == "-"
                and isinstance(expr, n.Literal)
                and type(expr.value) in (int, float)
                and expr.line == p.line
                and expr.col > p.col
                and not isinstance(expr, bool)
            ):
                expr = n.Literal(p.line, p.col, -expr.value)  # type: ignore[operator]
            else:
                expr = n.Unary(p.line, p.col, p.value, expr)
        if isinstance(expr, n.Literal) and type(expr.value) is int and expr.value > NUMBER_MAX:
            raise self.lexer.error("Number out of range", expr.line, expr.col)
        return expr, height

    def parse_args(self) -> list[n.Expr]:
        self.expect_op("(")
        args: list[n.Expr] = []
        if self.is_op(")"):
            self.advance()
            return args
        while True:
            args.append(self.parse_expr())
            if self.is_op(","):
                self.advance()
                if self.is_op(")"):
                    raise self.unexpected("an argument after ','")
                continue
            self.expect_op(")")
            return args

    def parse_primary(self, negated: bool = False) -> n.Expr:
        t = self.tok
        k = t.kind
        if k is T.INT:
            self.advance()
            value = int(t.value)
            if value > NUMBER_MAX and not negated:
                raise self.lexer.error("Number out of range", t.line, t.col)
            return n.Literal(t.line, t.col, value)
        if k is T.DECIMAL:
            self.advance()
            return n.Literal(t.line, t.col, float(t.value))
        if k is T.TEXT:
            self.advance()
            return n.Literal(t.line, t.col, t.value)
        if k is T.SQTEXT:
            self.advance()
            from .datetimes import looks_like_date_literal

            if looks_like_date_literal(t.value):
                return n.DateLiteral(t.line, t.col, t.value)
            return n.Literal(t.line, t.col, t.value)
        if k is T.OP:
            if t.value == "(":
                self.advance()
                e = self.parse_expr()
                self.expect_op(")")
                return e
            if t.value == "{":
                return self.parse_braces()
            if t.value == "[":
                return self.parse_brackets()
            if t.value == "?":
                raise self.error(
                    "The '?:' operator does not exist in Deluge; use if(condition, a, b)"
                )
            raise self.unexpected("a value")
        if k is T.EOF:
            raise self.unexpected("a value")
        return self.parse_name_expr()

    def parse_braces(self) -> n.Expr:
        t = self.advance()
        self.enter(t)
        if self.is_op("}"):
            self.advance()
            self.leave()
            return n.EmptyCollection(t.line, t.col)
        first = self.parse_expr()
        if self.is_op(":"):
            self.advance()
            entries = [(first, self.parse_expr())]
            while self.is_op(","):
                self.advance()
                if self.is_op("}"):
                    raise self.unexpected("a key after ','")
                key = self.parse_expr()
                if not self.is_op(":"):
                    raise self.unexpected("':' (a map literal cannot mix keys with list elements)")
                self.advance()
                entries.append((key, self.parse_expr()))
            self.expect_op("}")
            self.leave()
            return n.MapLiteral(t.line, t.col, entries)
        items = [first]
        while self.is_op(","):
            self.advance()
            if self.is_op("}"):
                raise self.unexpected("an element after ','")
            items.append(self.parse_expr())
            if self.is_op(":"):
                raise self.error("A list literal cannot mix elements with 'key: value' pairs")
        self.expect_op("}")
        self.leave()
        return n.ListLiteral(t.line, t.col, items)

    def parse_brackets(self) -> n.Expr:
        t = self.advance()
        self.enter(t)
        items: list[n.Expr] = []
        if not self.is_op("]"):
            while True:
                items.append(self.parse_expr())
                if self.is_op(","):
                    self.advance()
                    if self.is_op("]"):
                        raise self.unexpected("an element after ','")
                    continue
                break
        self.expect_op("]")
        self.leave()
        return n.ListLiteral(t.line, t.col, items)

    def parse_name_expr(self) -> n.Expr:
        t = self.advance()
        w = t.value.lower()
        nxt = self.tok
        if w in ("true", "false"):
            return n.Literal(t.line, t.col, w == "true")
        if w == "null":
            return n.Literal(t.line, t.col, None)
        if w == "if" and self.is_op("("):
            args = self.parse_args()
            if len(args) != 3:
                raise self.error(f"if(condition, a, b) takes 3 arguments but got {len(args)}", t)
            return n.IfExpr(t.line, t.col, args[0], args[1], args[2])
        if w == "ifnull" and self.is_op("("):
            args = self.parse_args()
            if len(args) != 2:
                raise self.error(
                    f"ifnull(value, fallback) takes 2 arguments but got {len(args)}", t
                )
            return n.IfNull(t.line, t.col, args[0], args[1])
        if w == "input":
            if self.is_op("."):
                self.advance()
                name = self.expect_ident("an argument name after 'input.'")
                if self.is_op("("):
                    # input.x.method() is handled by the postfix loop; input.method() is not Deluge
                    raise self.error("'input' has no methods; use input.<argument>", name)
                return n.InputArg(name.line, name.col, name.value)
            return n.InputMap(t.line, t.col)
        if w == "zoho":
            return self.parse_zoho(t)
        if (
            w in CALL_NAMESPACES
            and self.is_op(".")
            and self.peek().kind is T.IDENT
            and self.is_op("(", self.peek(2))
        ):
            self.advance()
            name = self.advance()
            args = self.parse_args()
            category = "standalone" if w == "thisapp" else CATEGORIES[w]
            return n.FunctionRef(t.line, t.col, category, name.value, args)
        if w in ("map", "list", "collection") and (
            self.is_op("(") or (w == "list" and self.is_op(":"))
        ):
            elem_type = None
            if self.is_op(":"):
                self.advance()
                et = self.expect_ident("a list element type")
                elem_type = et.value
            if w == "collection":
                return self.parse_collection_args(t)
            args = self.parse_args()
            return n.Constructor(t.line, t.col, w, elem_type, args)
        if w in TASK_KEYS and self.is_op("["):
            self.i -= 1
            return self.parse_task_block()
        if nxt.kind is T.OP and nxt.value == "(":
            if w in RESERVED:
                raise self.error(f"'{t.value}' is a reserved keyword", t)
            args = self.parse_args()
            return n.FunctionCall(t.line, t.col, t.value, args)
        if w in RESERVED:
            raise self.error(f"'{t.value}' is a reserved keyword", t)
        if w in NOT_DELUGE and w in ("while", "do", "switch", "function"):
            raise self.error(NOT_DELUGE[w], t)
        return n.Name(t.line, t.col, t.value)

    def parse_collection_args(self, t: Token) -> n.Expr:
        self.expect_op("(")
        if self.is_op(")"):
            self.advance()
            return n.EmptyCollection(t.line, t.col)
        first = self.parse_expr()
        if self.is_op(":"):
            self.advance()
            entries = [(first, self.parse_expr())]
            while self.is_op(","):
                self.advance()
                key = self.parse_expr()
                self.expect_op(":")
                entries.append((key, self.parse_expr()))
            self.expect_op(")")
            return n.MapLiteral(t.line, t.col, entries)
        items = [first]
        while self.is_op(","):
            self.advance()
            items.append(self.parse_expr())
        self.expect_op(")")
        return n.ListLiteral(t.line, t.col, items)

    def parse_zoho(self, t: Token) -> n.Expr:
        parts: list[Token] = []
        while self.is_op(".") and self.peek().kind is T.IDENT:
            if len(parts) == 1 and parts[0].value.lower() in SYSTEM_VARIABLES:
                break  # zoho.currentdate.toString(...): a method call on the system variable
            self.advance()
            parts.append(self.advance())
        if not parts:
            raise self.unexpected("'.' after 'zoho'")
        path = "zoho." + ".".join(p.value for p in parts)
        if self.is_op("("):
            args = self.parse_args()
            if len(parts) < 2:
                raise self.error(f"Unknown task '{path}'", t)
            namespace = parts[0].value.lower()
            return n.TaskCall(t.line, t.col, namespace, parts[-1].value, args, path)
        name = ".".join(p.value.lower() for p in parts)
        if name not in SYSTEM_VARIABLES:
            raise self.error(f"Unknown system variable '{path}'", t)
        return n.SystemVar(t.line, t.col, name)


def parse(source: str) -> n.Module:
    """Parse a whole function file (header + body, or a bare script)."""
    if len(source.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        raise DelugeSyntaxError("Source file exceeds 1 MB", 1, 1)
    try:
        return Parser(source).parse_module()
    except RecursionError:  # pragma: no cover - the nesting limit stops far earlier
        raise DelugeSyntaxError(
            f"Nesting exceeds the limit of {MAX_NESTING} levels", 1, 1
        ) from None
