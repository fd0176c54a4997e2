"""Syntax tree of a Deluge function. Every node carries its 1-based line and column."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Node:
    line: int
    col: int


# --- expressions -------------------------------------------------------------------------------


@dataclass(slots=True)
class Literal(Node):
    value: bool | int | float | str | None


@dataclass(slots=True)
class DateLiteral(Node):
    text: str


@dataclass(slots=True)
class Name(Node):
    name: str


@dataclass(slots=True)
class InputArg(Node):
    """``input.name``."""

    name: str


@dataclass(slots=True)
class InputMap(Node):
    """``input`` alone: a snapshot MAP of all arguments."""


@dataclass(slots=True)
class ListLiteral(Node):
    items: list[Expr]


@dataclass(slots=True)
class MapLiteral(Node):
    entries: list[tuple[Expr, Expr]]


@dataclass(slots=True)
class EmptyCollection(Node):
    """``{}``: a COLLECTION that becomes a LIST or a MAP on first use (D-17)."""


@dataclass(slots=True)
class Unary(Node):
    op: str  # "-", "+", "!"
    operand: Expr


@dataclass(slots=True)
class Binary(Node):
    op: str
    left: Expr
    right: Expr


@dataclass(slots=True)
class Logical(Node):
    op: str  # "&&" or "||"
    left: Expr
    right: Expr


@dataclass(slots=True)
class IfExpr(Node):
    cond: Expr
    then: Expr
    other: Expr


@dataclass(slots=True)
class IfNull(Node):
    value: Expr
    fallback: Expr


@dataclass(slots=True)
class MethodCall(Node):
    receiver: Expr
    name: str  # as written
    args: list[Expr]


@dataclass(slots=True)
class FunctionCall(Node):
    """A global built-in: ``len(x)``, ``toDate(t, "dd/MM/yyyy")``, ``getUrl(u)``."""

    name: str
    args: list[Expr]


@dataclass(slots=True)
class Constructor(Node):
    """``Map()``, ``List()``, ``List:String()``, ``Collection(...)``."""

    kind: str  # "map", "list", "collection"
    elem_type: str | None
    args: list[Expr]


@dataclass(slots=True)
class TaskCall(Node):
    """``zoho.<namespace>.<task>(args)``: ``namespace`` like ``crm``, ``encryption``, ``books``."""

    namespace: str
    task: str
    args: list[Expr]
    path: str  # as written, for messages: "zoho.books.getRecords"


@dataclass(slots=True)
class SystemVar(Node):
    """``zoho.currenttime`` and friends, and the globals ``now`` / ``today``."""

    name: str  # lower-case


@dataclass(slots=True)
class FunctionRef(Node):
    """``standalone.name(args)`` and other ``<category>.<name>(...)`` calls."""

    category: str  # lower-case
    api_name: str
    args: list[Expr]


@dataclass(slots=True)
class TaskBlock(Node):
    """``invokeurl [ ... ]``, ``sendmail [ ... ]``, ``invokeapi [ ... ]`` as an expression."""

    task: str  # lower-case
    params: list[tuple[str, Expr]]  # normalised key ("content-type", "reply to")


Expr = (
    Literal | DateLiteral | Name | InputArg | InputMap | ListLiteral | MapLiteral | EmptyCollection
    | Unary | Binary | Logical | IfExpr | IfNull | MethodCall | FunctionCall | Constructor
    | TaskCall | SystemVar | FunctionRef | TaskBlock
)  # fmt: skip


# --- statements --------------------------------------------------------------------------------


@dataclass(slots=True)
class Assign(Node):
    target: str  # variable name (``input.x`` assigns argument x)
    op: str  # "=", "+=", ...
    value: Expr


@dataclass(slots=True)
class ExprStmt(Node):
    expr: Expr


@dataclass(slots=True)
class Info(Node):
    value: Expr


@dataclass(slots=True)
class Return(Node):
    value: Expr | None


@dataclass(slots=True)
class Throw(Node):
    value: Expr


@dataclass(slots=True)
class Break(Node):
    pass


@dataclass(slots=True)
class Continue(Node):
    pass


@dataclass(slots=True)
class If(Node):
    branches: list[tuple[Expr, list[Stmt]]]  # if / else if, in order
    orelse: list[Stmt] | None


@dataclass(slots=True)
class ForEach(Node):
    var: str
    iterable: Expr
    body: list[Stmt]
    index: bool  # ``for each index i in list``


@dataclass(slots=True)
class TryCatch(Node):
    body: list[Stmt]
    var: str
    handler: list[Stmt]


Stmt = Assign | ExprStmt | Info | Return | Throw | Break | Continue | If | ForEach | TryCatch


@dataclass(slots=True)
class Param(Node):
    type_name: str  # canonical: String, Int, Decimal, Bool, Date, DateTime, Map, List
    name: str


@dataclass(slots=True)
class Header(Node):
    return_type: str  # canonical type name or "void"
    category: str  # standalone, automation, button, related_list, schedule, validation
    api_name: str
    params: list[Param]


@dataclass(slots=True)
class Module(Node):
    header: Header | None
    body: list[Stmt]
    implicit_args: list[str] = field(default_factory=list)  # bare scripts: names never assigned
