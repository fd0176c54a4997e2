"""Search criteria -> SQL over the ``records`` table, for SQLite and PostgreSQL (security.md AZ-7).

``criteria_clause(tree, module, dialect)`` turns a tree from ``criteria.parse_criteria`` into a
SQLAlchemy boolean expression. Every value the user wrote becomes a bound parameter; the only
identifiers in the SQL are field API names taken from the module's metadata, checked against
``SAFE_NAME`` and rendered as literal JSON paths (literal, so that expression indexes match).

Field values are read from the JSON column: ``json_extract(data, '$."F"')`` on SQLite,
``data ->> 'F'`` on PostgreSQL (stored forms: crm/values.py). The semantics are those of the
in-memory evaluator in ``criteria.py`` (compat §6.4): text equality ignores case (D-51), an empty
field never matches (not even ``not_equal``), ``${EMPTY}`` tests emptiness.
Case folding uses SQL ``lower()``, which on SQLite folds ASCII letters only.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from . import schema as t
from .criteria import (
    And,
    Condition,
    Criteria,
    CriteriaError,
    compile_criteria,
    parse_date,
    parse_datetime,
    parse_number,
)
from .standard import ModuleDef

SAFE_NAME: Final = re.compile(r"\$?[A-Za-z][A-Za-z0-9_]{0,99}")
LIKE_ESCAPE: Final = "\\"
R = t.records
_SYSTEM_COLUMNS: Final = {
    "Owner": R.c.owner_id,
    "Created_By": R.c.created_by,
    "Modified_By": R.c.modified_by,
}
_TIME_COLUMNS: Final = {"Created_Time": R.c.created_time, "Modified_Time": R.c.modified_time}
_TEXTISH: Final = frozenset({"text", "textarea", "email", "phone", "url", "picklist", "autonumber"})
_NUMERIC: Final = frozenset({"integer", "bigint", "decimal", "currency", "percent"})
_NEGATED: Final = {"not_equal": "equals", "not_in": "in", "not_contains": "contains"}


def _checked(name: str) -> str:
    if not SAFE_NAME.fullmatch(name):  # metadata names always pass; this is a last guard
        raise ValueError(f"unsafe field name {name!r}")
    return name


class Dialect:
    """JSON value expressions for one database dialect."""

    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"

    def text(self, field: str) -> ColumnElement[Any]:
        """The field's value as SQL text (numbers as their JSON text on PostgreSQL)."""
        f = _checked(field)
        if self.pg:
            return R.c.data.op("->>")(sa.literal_column(f"'{f}'"))
        return sa.func.json_extract(R.c.data, sa.literal_column(f"'$.\"{f}\"'"))

    def number(self, field: str) -> ColumnElement[Any]:
        """A number field's value to compare and sort by. PostgreSQL compares the ``jsonb``
        value itself (numbers in numeric order) against ``number_param``: the sort indexes of
        migration 0012 then serve ranges too, and unlike a ``::numeric`` cast a stray value
        cannot make a query or an indexed write fail."""
        if self.pg:
            return R.c.data.op("->")(sa.literal_column(f"'{_checked(field)}'"))
        return self.text(field)

    def has(self, field: str) -> ColumnElement[bool]:
        """The record stores the field (empty values are not stored). On PostgreSQL this is the
        ``data ? 'F'`` predicate of the partial sort indexes (migration 0012), written with the
        name inline so the planner can match it."""
        if self.pg:
            return R.c.data.op("?", is_comparison=True)(sa.literal_column(f"'{_checked(field)}'"))
        return self.present(field)

    def boolean(self, field: str, value: bool) -> ColumnElement[bool]:
        if self.pg:
            return self.text(field) == ("true" if value else "false")
        return self.text(field) == (1 if value else 0)

    def present(self, field: str) -> ColumnElement[bool]:
        return self.text(field).is_not(None)

    def elements(self, field: str) -> tuple[Any, ColumnElement[Any]]:
        """A table of a JSON array's elements and its text column (multi-select values)."""
        f = _checked(field)
        if self.pg:
            fn = sa.func.jsonb_array_elements_text(
                R.c.data.op("->")(sa.literal_column(f"'{f}'"))
            ).table_valued("value")
            return fn, fn.c.value
        fn = sa.func.json_each(R.c.data, sa.literal_column(f"'$.\"{f}\"'")).table_valued("value")
        return fn, fn.c.value

    def number_param(self, value: Decimal) -> Any:
        """A number to compare with ``number``."""
        if self.pg:
            return sa.func.to_jsonb(
                sa.cast(sa.bindparam(None, value, type_=sa.Numeric), sa.Numeric)
            )
        whole = value == value.to_integral_value()
        # SQLite binds integers up to 64 bits; larger whole numbers compare as the floats
        # they are stored as.
        return int(value) if whole and -(2**63) <= value < 2**63 else float(value)


def like_pattern(text: str, prefix: bool, suffix: bool) -> str:
    escaped = (text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%")).replace(
        "_", LIKE_ESCAPE + "_"
    )
    return ("%" if prefix else "") + escaped + ("%" if suffix else "")


def _text_op(expr: ColumnElement[Any], op: str, values: Sequence[str]) -> ColumnElement[bool]:
    low = sa.func.lower(expr)
    if op == "starts_with":
        return low.like(sa.func.lower(like_pattern(values[0], False, True)), escape=LIKE_ESCAPE)
    if op == "contains":
        return low.like(sa.func.lower(like_pattern(values[0], True, True)), escape=LIKE_ESCAPE)
    if len(values) == 1:
        return low == sa.func.lower(sa.bindparam(None, values[0], type_=sa.String))
    return low.in_([sa.func.lower(sa.bindparam(None, v, type_=sa.String)) for v in values])


_ASCII_LOWER: Final = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
)  # SQLite's lower()


def prefix_range(low_expr: ColumnElement[Any], prefix: str) -> list[ColumnElement[bool]]:
    """``low_expr >= p AND low_expr < p'`` for SQLite: every value whose ``lower()`` starts
    with ``prefix`` lies in that range, which the ``lower(name)`` index (``ix_records_module_name``)
    can read; a ``LIKE`` on an expression cannot use an index there. Added next to the
    ``LIKE``, which still decides, so the range only narrows what is read and drops no match.
    ``p`` is the prefix folded as SQLite's ``lower()`` folds (ASCII letters only); ``p'`` is ``p``
    with its last character's code point raised by one (SQLite compares text by its UTF-8 bytes,
    whose order is the code point order). Empty when no such bound exists (empty prefix, last
    character U+10FFFF, lone surrogates)."""
    low = prefix.translate(_ASCII_LOWER)
    if not low or any(0xD800 <= ord(c) <= 0xDFFF for c in low):
        return []
    nxt = ord(low[-1]) + 1
    if nxt == 0xD800:
        nxt = 0xE000
    if nxt > 0x10FFFF:
        return []
    return [low_expr >= low, low_expr < low[:-1] + chr(nxt)]


def criteria_clause(
    criteria: Criteria,
    module: ModuleDef,
    field_types: dict[str, str],
    dialect: str,
    tz: _dt.tzinfo = _dt.UTC,
) -> ColumnElement[bool]:
    """The SQL condition for ``criteria`` on ``module``; raises ``CriteriaError`` first for
    unknown fields, operators the type does not allow and values that do not fit."""
    compile_criteria(criteria, field_types, tz)  # the type checks, shared with the evaluator
    return _Builder(module, field_types, Dialect(dialect), tz).node(criteria)


class _Builder:
    def __init__(
        self, module: ModuleDef, types: dict[str, str], d: Dialect, tz: _dt.tzinfo
    ) -> None:
        self.mod = module
        self.types = {k.lower(): (k, v) for k, v in types.items()}
        self.d = d
        self.tz = tz

    def node(self, c: Criteria) -> ColumnElement[bool]:
        if isinstance(c, Condition):
            return self.condition(c)
        parts = [self.node(x) for x in c.items]
        return sa.and_(*parts) if isinstance(c, And) else sa.or_(*parts)

    def condition(self, c: Condition) -> ColumnElement[bool]:
        name, ftype = self.types[c.field.lower()]
        sub = c.subfield.lower() if c.subfield else None
        op = c.operator
        negate = op in _NEGATED
        base = _NEGATED.get(op, op)
        if c.values == (None,):  # ${EMPTY}
            present = self._present(name, ftype)
            return sa.not_(present) if op == "equals" else present
        present, match = self._parts(c, name, ftype, sub, base)
        if negate:
            return sa.and_(present, sa.not_(match))
        return sa.and_(present, match)

    def _present(self, name: str, ftype: str) -> ColumnElement[bool]:
        if name == "id":
            return R.c.id.is_not(None)
        if name in _TIME_COLUMNS:
            return _TIME_COLUMNS[name].is_not(None)
        if ftype == "ownerlookup":
            return _SYSTEM_COLUMNS[name].is_not(None)
        if ftype in _TEXTISH and name == self.mod.name_field:
            return R.c.name.is_not(None)
        return self.d.present(name)

    def _parts(
        self, c: Condition, name: str, ftype: str, sub: str | None, op: str
    ) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        texts = [v for v in c.values if v is not None]
        d = self.d
        if name == "id":
            col = R.c.id
            return col.is_not(None), self._ordered(
                col, op, [int(parse_number(x) or 0) for x in texts]
            )
        if name in _TIME_COLUMNS:
            col = _TIME_COLUMNS[name]
            return col.is_not(None), self._time_column(col, op, texts)
        if ftype == "ownerlookup":
            col = _SYSTEM_COLUMNS[name]
            return col.is_not(None), self._owner(col, op, texts, sub)
        if ftype in ("lookup", "parent"):
            expr = d.text(name)
            return expr.is_not(None), self._lookup(expr, op, texts, sub)
        if ftype in _TEXTISH:
            # The name field is also the indexed ``records.name`` column.
            if name == self.mod.name_field:
                match = _text_op(R.c.name, op, texts)
                if op == "starts_with" and not d.pg:
                    match = sa.and_(match, *prefix_range(sa.func.lower(R.c.name), texts[0]))
                return R.c.name.is_not(None), match
            expr = d.text(name)
            return expr.is_not(None), _text_op(expr, op, texts)
        if ftype == "multiselectpicklist":
            table, value = d.elements(name)
            cond = _text_op(value, op, texts)
            return d.present(name), sa.exists(
                sa.select(sa.literal(1)).select_from(table).where(cond)
            )
        if ftype == "boolean":
            return d.present(name), d.boolean(name, texts[0].lower() == "true")
        if ftype in _NUMERIC:
            nums = [parse_number(x) for x in texts]
            params = [d.number_param(n) for n in nums if n is not None]
            return d.present(name), self._ordered(d.number(name), op, params)
        if ftype == "date":
            dates = [parse_date(x) for x in texts]
            return d.present(name), self._ordered(
                d.text(name), op, [x.isoformat() for x in dates if x is not None]
            )
        if ftype == "datetime":
            moments = [parse_datetime(x, self.tz) for x in texts]
            values = [
                m.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                for m in moments
                if m is not None
            ]
            return d.present(name), self._ordered(d.text(name), op, values)
        raise CriteriaError(
            f"Field '{name}' of type {ftype} cannot be searched", c.position, api_name=name
        )

    @staticmethod
    def _ordered(expr: ColumnElement[Any], op: str, values: Sequence[Any]) -> ColumnElement[bool]:
        if op in ("equals", "in"):
            return expr == values[0] if len(values) == 1 else expr.in_(list(values))
        if op == "greater_than":
            return expr > values[0]
        if op == "greater_equal":
            return expr >= values[0]
        if op == "less_than":
            return expr < values[0]
        if op == "less_equal":
            return expr <= values[0]
        if op == "between":
            return sa.and_(expr >= values[0], expr <= values[1])
        raise ValueError(op)  # pragma: no cover - compile_criteria allows nothing else

    def _time_column(
        self, col: ColumnElement[Any], op: str, texts: Sequence[str]
    ) -> ColumnElement[bool]:
        """System times are milliseconds; a value names a whole second (or day)."""
        spans = []
        for x in texts:
            m = parse_datetime(x, self.tz)
            assert m is not None  # checked by compile_criteria
            start = int(m.timestamp()) * 1000
            width = 86_400_000 if parse_date(x) is not None else 1000
            spans.append((start, start + width - 1))
        if op in ("equals", "in"):
            return sa.or_(*[col.between(a, b) for a, b in spans])
        if op == "greater_than":
            return col > spans[0][1]
        if op == "greater_equal":
            return col >= spans[0][0]
        if op == "less_than":
            return col < spans[0][0]
        if op == "less_equal":
            return col <= spans[0][1]
        return col.between(spans[0][0], spans[1][1])

    def _owner(
        self, col: ColumnElement[Any], op: str, texts: Sequence[str], sub: str | None
    ) -> ColumnElement[bool]:
        U = t.users
        full = sa.func.lower(sa.func.coalesce(U.c.first_name + " ", "") + U.c.last_name)
        if sub == "id":
            return col.in_([int(x) for x in texts])
        if sub in ("name", "email"):
            target = U.c.email if sub == "email" else full
            return col.in_(sa.select(U.c.id).where(_text_op(target, op, texts)))
        conds = []
        for x in texts:
            if x.isdigit():
                conds.append(col == int(x))
            elif "@" in x:
                conds.append(col.in_(sa.select(U.c.id).where(U.c.email == x.strip().lower())))
            else:
                conds.append(col.in_(sa.select(U.c.id).where(full == sa.func.lower(x))))
        return sa.or_(*conds)

    def _lookup(
        self, expr: ColumnElement[Any], op: str, texts: Sequence[str], sub: str | None
    ) -> ColumnElement[bool]:
        R2 = R.alias("lookup_target")
        as_text = sa.cast(R2.c.id, sa.String)
        if sub == "id":
            return expr.in_(list(texts))
        if sub == "name":
            return expr.in_(sa.select(as_text).where(_text_op(R2.c.name, op, texts)))
        conds = []
        for x in texts:
            if x.isdigit():
                conds.append(expr == x)
            else:
                conds.append(
                    expr.in_(
                        sa.select(as_text).where(
                            sa.func.lower(R2.c.name) == sa.func.lower(sa.bindparam(None, x))
                        )
                    )
                )
        return sa.or_(*conds)


# --------------------------------------------------------------------------------------------
# email= / phone= / word= searches (compat §5.7)

_PHONE_STRIP: Final = (" ", "-", "(", ")", ".", "/", "+")


def digits_only(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def email_clause(module: ModuleDef, value: str, dialect: str) -> ColumnElement[bool]:
    d = Dialect(dialect)
    names = [f.api_name for f in module.fields.values() if f.type == "email"]
    if not names:
        return sa.false()
    return sa.or_(*[_text_op(d.text(n), "equals", [value.strip()]) for n in names])


def phone_clause(module: ModuleDef, value: str, dialect: str) -> ColumnElement[bool]:
    """Phone fields equal after removing spaces and punctuation (a leading + included)."""
    d = Dialect(dialect)
    names = [f.api_name for f in module.fields.values() if f.type == "phone"]
    wanted = digits_only(value)
    if not names or not wanted:
        return sa.false()
    conds = []
    for n in names:
        expr: ColumnElement[Any] = d.text(n)
        for ch in _PHONE_STRIP:
            expr = sa.func.replace(expr, ch, "")
        conds.append(expr == wanted)
    return sa.or_(*conds)


def word_clause(module: ModuleDef, value: str, dialect: str) -> ColumnElement[bool]:
    d = Dialect(dialect)
    names = [f.api_name for f in module.fields.values() if f.type in _TEXTISH]
    if not names:
        return sa.false()
    return sa.or_(*[_text_op(d.text(n), "contains", [value.strip()]) for n in names])
