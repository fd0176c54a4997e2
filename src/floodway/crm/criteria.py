"""Zoho CRM search criteria: parser, type checks and in-memory evaluation (zoho-rest-compat.md §6).

``parse_criteria("((Stage:equals:Closed Won)and(Amount:greater_than:5000))")`` returns an immutable
tree of ``Condition`` / ``And`` / ``Or`` nodes. The tree only records what was written (field path,
canonical operator, unescaped value texts); it knows nothing about field types, so the in-memory
evaluator below and a SQL compiler can both walk it. ``compile_criteria`` checks the tree against
the module's field types (operator allowed, values fit the type) and returns a predicate over
record mappings; ``evaluate`` is the one-shot form.

Extensions beyond the compat document, all Zoho behaviours real scripts use: operators ``not_in``
and ``not_contains``; the value ``${EMPTY}`` with ``equals`` / ``not_equal`` to find records whose
field is (not) empty; balanced unescaped parentheses inside a value (``Acme (EU)``) are literal.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeAlias

MAX_CONDITIONS: Final = 10
MAX_IN_VALUES: Final = 100
EMPTY_VALUE: Final = "${EMPTY}"

OPERATORS: Final = frozenset(
    {
        "equals",
        "not_equal",
        "starts_with",
        "in",
        "not_in",
        "between",
        "greater_than",
        "greater_equal",
        "less_than",
        "less_equal",
        "contains",
        "not_contains",
    }
)
_LIST_OPERATORS: Final = frozenset({"in", "not_in", "between"})


class CriteriaError(Exception):
    """A criteria string that cannot be parsed or does not fit the module's fields.

    ``position`` is the 1-based column in the criteria text; ``api_name`` / ``operator`` are set
    when the problem belongs to one condition (they feed the ``INVALID_QUERY`` details).
    """

    def __init__(
        self,
        message: str,
        position: int,
        *,
        api_name: str | None = None,
        operator: str | None = None,
    ) -> None:
        super().__init__(f"{message} at column {position}")
        self.message = message
        self.position = position
        self.api_name = api_name
        self.operator = operator


class CriteriaLimitError(CriteriaError):
    """Too many conditions (10) or too many ``in`` values (100): Zoho's ``LIMIT_EXCEEDED``."""

    def __init__(self, message: str, position: int, limit: int) -> None:
        super().__init__(message, position)
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Condition:
    """``(field:operator:value)``; ``values`` holds one text, or several for in/not_in/between.

    A value of ``None`` stands for ``${EMPTY}``. ``subfield`` is the part after the dot of a lookup
    path (``Account_Name.id`` -> field ``Account_Name``, subfield ``id``).
    """

    field: str
    operator: str
    values: tuple[str | None, ...]
    subfield: str | None = None
    position: int = 1

    @property
    def path(self) -> str:
        return self.field if self.subfield is None else f"{self.field}.{self.subfield}"


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Criteria, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Criteria, ...]


Criteria: TypeAlias = Condition | And | Or

_FIELD_RE: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?")


def iter_conditions(criteria: Criteria) -> Iterator[Condition]:
    """Every condition of the tree, left to right."""
    stack: list[Criteria] = [criteria]
    while stack:
        node = stack.pop()
        if isinstance(node, Condition):
            yield node
        else:
            stack.extend(reversed(node.items))


# --------------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, text: str, strict: bool) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.strict = strict  # strict: "\\" is one literal backslash (§6.2 fallback reading)
        self.count = 0

    def error(self, message: str, index: int | None = None) -> CriteriaError:
        return CriteriaError(message, (self.i if index is None else index) + 1)

    def skip_ws(self) -> None:
        while self.i < self.n and self.s[self.i].isspace():
            self.i += 1

    def parse(self) -> Criteria:
        self.skip_ws()
        if self.i >= self.n:
            raise self.error("Criteria is empty")
        if self.s[self.i] != "(":
            # A lone criterion without its parentheses: the value runs to the end of the text.
            return self.condition(self.i, bare=True)
        result = self.parse_or()
        self.skip_ws()
        if self.i < self.n:
            found = self.s[self.i : self.i + 10]
            raise self.error(f"Unexpected text '{found}'; expected 'and', 'or' or the end")
        return result

    def conj(self, word: str) -> bool:
        save = self.i
        self.skip_ws()
        end = self.i + len(word)
        if self.s[self.i : end].lower() == word:
            self.i = end
            return True
        self.i = save
        return False

    def parse_or(self) -> Criteria:
        items = [self.parse_and()]
        while self.conj("or"):
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Criteria:
        items = [self.term()]
        while self.conj("and"):
            items.append(self.term())
        return items[0] if len(items) == 1 else And(tuple(items))

    def term(self) -> Criteria:
        self.skip_ws()
        if self.i >= self.n:
            raise self.error("Unexpected end of criteria; expected '('")
        if self.s[self.i] != "(":
            raise self.error(f"Expected '(' but found '{self.s[self.i]}'")
        open_at = self.i
        j = self.i + 1
        while j < self.n and self.s[j].isspace():
            j += 1
        if j < self.n and self.s[j] == "(":
            self.i = j
            inner = self.parse_or()
            self.skip_ws()
            if self.i >= self.n or self.s[self.i] != ")":
                raise self.error(f"Missing ')' to close the '(' at column {open_at + 1}")
            self.i += 1
            return inner
        self.i += 1
        return self.condition(open_at, bare=False)

    def part(self, what: str, open_at: int) -> tuple[str, int]:
        """Field name or operator: text up to the next ':'."""
        start = self.i
        while self.i < self.n and self.s[self.i] not in ":()":
            self.i += 1
        if self.i >= self.n or self.s[self.i] != ":":
            raise self.error(
                f"Expected ':' after the {what} of the condition at column {open_at + 1}"
            )
        text = self.s[start : self.i].strip()
        self.i += 1
        return text, start

    def condition(self, open_at: int, bare: bool) -> Condition:
        self.skip_ws()
        field, field_at = self.part("field name", open_at)
        if not field:
            raise self.error("Missing field name", field_at)
        if not _FIELD_RE.fullmatch(field):
            raise self.error(f"Invalid field name '{field}'", field_at)
        op_text, op_at = self.part("operator", open_at)
        operator = op_text.lower()
        if not operator:
            raise self.error("Missing operator", op_at)
        if operator not in OPERATORS:
            raise self.error(f"Unknown operator '{op_text}'", op_at)
        value_at = self.i
        segments = self.value(open_at, bare)
        self.count += 1
        if self.count > MAX_CONDITIONS:
            raise CriteriaLimitError(
                f"Too many conditions: at most {MAX_CONDITIONS} are allowed",
                open_at + 1,
                MAX_CONDITIONS,
            )
        values = self.values(operator, segments, value_at)
        name, _, sub = field.partition(".")
        return Condition(name, operator, values, sub or None, open_at + 1)

    def value(self, open_at: int, bare: bool) -> list[str]:
        """Unescaped value text split at unescaped commas; consumes the closing ')'."""
        s, n = self.s, self.n
        segments: list[str] = []
        cur: list[str] = []
        depth = 0  # balanced unescaped parentheses inside a value are literal
        while True:
            if self.i >= n:
                if bare:
                    break
                raise self.error(f"Missing ')' to close the condition at column {open_at + 1}")
            c = s[self.i]
            if c == "\\":
                j = self.i
                while j < n and s[j] == "\\":
                    j += 1
                run = j - self.i
                if not self.strict and j < n and s[j] in "(),":
                    cur.append(s[j])  # a run of backslashes before ( ) , is one escape
                    self.i = j + 1
                    continue
                cur.append("\\" * (run // 2))
                if run % 2:
                    if j >= n:
                        raise self.error("'\\' at the end of the criteria escapes nothing", j - 1)
                    cur.append(s[j])
                    j += 1
                self.i = j
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    if bare:
                        raise self.error("Unexpected ')'")
                    self.i += 1
                    break
                depth -= 1
            elif c == "," and depth == 0:
                segments.append("".join(cur))
                cur = []
                self.i += 1
                continue
            cur.append(c)
            self.i += 1
        segments.append("".join(cur))
        return segments

    def values(self, operator: str, segments: list[str], at: int) -> tuple[str | None, ...]:
        col = at + 1
        if operator in _LIST_OPERATORS:
            texts = [seg.strip() for seg in segments]
        else:
            texts = [",".join(segments).strip()]
        if any(t == "" for t in texts):
            raise CriteriaError(
                "Missing value" if len(texts) == 1 else "Empty value in the list", col
            )
        if operator == "between" and len(texts) != 2:
            raise CriteriaError("'between' needs two values separated by ','", col)
        if len(texts) > MAX_IN_VALUES:
            raise CriteriaLimitError(
                f"Too many values for '{operator}': at most {MAX_IN_VALUES} are allowed",
                col,
                MAX_IN_VALUES,
            )
        out: list[str | None] = [None if t.upper() == EMPTY_VALUE else t for t in texts]
        if None in out and operator not in ("equals", "not_equal"):
            raise CriteriaError(f"{EMPTY_VALUE} can only be used with equals or not_equal", col)
        return tuple(out)


def parse_criteria(text: str) -> Criteria:
    """Parse a criteria string; raises ``CriteriaError`` (column-accurate) when it is malformed.

    Escapes (§6.2): a run of backslashes right before ``(``, ``)`` or ``,`` is read as one escape;
    when that reading fails, the text is re-read with the strict rule (``\\\\`` = one backslash).
    """
    try:
        return _Parser(text, strict=False).parse()
    except CriteriaLimitError:
        raise
    except CriteriaError as first:
        if "\\\\" not in text:
            raise
        try:
            return _Parser(text, strict=True).parse()
        except CriteriaError:
            raise first from None


# --------------------------------------------------------------------------------------------
# Field types, operator checks and evaluation

_TEXT, _TEXTAREA, _PICK, _MULTI, _NUM, _DATE, _DATETIME, _BOOL, _LOOKUP, _OWNER = (
    "text",
    "textarea",
    "picklist",
    "multiselect",
    "number",
    "date",
    "datetime",
    "boolean",
    "lookup",
    "owner",
)

_KINDS: Final[dict[str, str]] = {
    "text": _TEXT,
    "email": _TEXT,
    "phone": _TEXT,
    "url": _TEXT,
    "website": _TEXT,
    "textarea": _TEXTAREA,
    "picklist": _PICK,
    "autonumber": _PICK,
    "multiselectpicklist": _MULTI,
    "integer": _NUM,
    "bigint": _NUM,
    "id": _NUM,
    "decimal": _NUM,
    "double": _NUM,
    "currency": _NUM,
    "percent": _NUM,
    "date": _DATE,
    "datetime": _DATETIME,
    "boolean": _BOOL,
    "lookup": _LOOKUP,
    "parent": _LOOKUP,
    "ownerlookup": _OWNER,
}

_ORDER_OPS: Final = frozenset(
    {"greater_than", "greater_equal", "less_than", "less_equal", "between"}
)
_EQ_OPS: Final = frozenset({"equals", "not_equal", "in", "not_in"})
_ALLOWED: Final[dict[str, frozenset[str]]] = {
    _TEXT: _EQ_OPS | {"starts_with", "contains", "not_contains"},
    _TEXTAREA: frozenset({"equals", "not_equal", "starts_with", "contains", "not_contains"}),
    _PICK: _EQ_OPS,
    _MULTI: _EQ_OPS | {"starts_with"},
    _NUM: _EQ_OPS | _ORDER_OPS,
    _DATE: _EQ_OPS | _ORDER_OPS,
    _DATETIME: _EQ_OPS | _ORDER_OPS,
    _BOOL: frozenset({"equals", "not_equal"}),
    _LOOKUP: _EQ_OPS,
    _OWNER: _EQ_OPS,
}

_NUM_RE: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_DATE_RE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?"
)

Predicate: TypeAlias = Callable[[Mapping[str, Any]], bool]


def is_empty(value: Any) -> bool:
    """A field value that counts as empty for search (null, "", empty list, lookup without id)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    if isinstance(value, Mapping):
        return value.get("id") in (None, "")
    return False


def parse_number(text: str) -> Decimal | None:
    t = text.strip()
    if not _NUM_RE.fullmatch(t):
        return None
    try:
        return Decimal(t)
    except InvalidOperation:  # pragma: no cover - the regex only admits valid numbers
        return None


def parse_date(text: str) -> _dt.date | None:
    m = _DATE_RE.fullmatch(text.strip())
    if not m:
        return None
    try:
        return _dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_datetime(text: str, tz: _dt.tzinfo = _dt.UTC) -> _dt.datetime | None:
    """ISO 8601 date-time; without an offset the text is read in ``tz``; a bare date is midnight."""
    t = text.strip()
    d = parse_date(t)
    if d is not None:
        return _dt.datetime(d.year, d.month, d.day, tzinfo=tz)
    m = _DATETIME_RE.fullmatch(t)
    if not m:
        return None
    zone: _dt.tzinfo = tz
    if m[7]:
        if m[7] == "Z":
            zone = _dt.UTC
        else:
            off = m[7].replace(":", "")
            sign = -1 if off[0] == "-" else 1
            zone = _dt.timezone(sign * _dt.timedelta(hours=int(off[1:3]), minutes=int(off[3:5])))
    try:
        return _dt.datetime(
            int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0), tzinfo=zone
        )
    except ValueError:
        return None


def _lookup_field(field_types: Mapping[str, str], name: str) -> tuple[str, str] | None:
    t = field_types.get(name)
    if t is not None:
        return name, t
    low = name.lower()
    for k, v in field_types.items():
        if k.lower() == low:
            return k, v
    return None


def compile_criteria(
    criteria: Criteria, field_types: Mapping[str, str], tz: _dt.tzinfo = _dt.UTC
) -> Predicate:
    """Check the criteria against ``field_types`` (API name -> floodway field type) and build a
    predicate over records (API name -> value).

    Record values may be in the Deluge read form (dates as ``yyyy-MM-dd`` text, lookups as maps
    with ``id``/``name``, owners with ``email``) or Python values (``date``, aware ``datetime``).
    Raises ``CriteriaError`` for an unknown field, an operator the type does not support or a
    value that does not fit the type.
    """
    if isinstance(criteria, Condition):
        return _compile_condition(criteria, field_types, tz)
    parts = [compile_criteria(c, field_types, tz) for c in criteria.items]
    if isinstance(criteria, And):
        return lambda rec: all(p(rec) for p in parts)
    return lambda rec: any(p(rec) for p in parts)


def evaluate(
    criteria: Criteria,
    record: Mapping[str, Any],
    field_types: Mapping[str, str],
    tz: _dt.tzinfo = _dt.UTC,
) -> bool:
    """Whether ``record`` matches; see ``compile_criteria``."""
    return compile_criteria(criteria, field_types, tz)(record)


def _compile_condition(c: Condition, field_types: Mapping[str, str], tz: _dt.tzinfo) -> Predicate:
    found = _lookup_field(field_types, c.field)
    if found is None:
        raise CriteriaError(
            f"Unknown field '{c.field}'", c.position, api_name=c.field, operator=c.operator
        )
    name, ftype = found
    kind = _KINDS.get(ftype.lower())
    if kind is None:
        raise CriteriaError(
            f"Field '{name}' of type {ftype} cannot be searched", c.position, api_name=name
        )
    sub = c.subfield.lower() if c.subfield else None
    if sub is not None:
        if kind not in (_LOOKUP, _OWNER) or sub not in ("id", "name", "email"):
            raise CriteriaError(
                f"Invalid lookup path '{c.path}'", c.position, api_name=name, operator=c.operator
            )
        if sub == "email" and kind != _OWNER:
            raise CriteriaError(
                f"Invalid lookup path '{c.path}'", c.position, api_name=name, operator=c.operator
            )
    op = c.operator
    allowed = _ALLOWED[_TEXT if sub in ("name", "email") else kind]
    if op not in allowed:
        raise CriteriaError(
            f"operator not supported for {ftype}", c.position, api_name=name, operator=op
        )
    # ${EMPTY}: emptiness test (equals) or its negation (not_equal).
    if c.values == (None,):
        want_empty = op == "equals"

        def empty_test(rec: Mapping[str, Any]) -> bool:
            v = rec.get(name)
            if sub is not None and isinstance(v, Mapping):
                v = v.get(sub)
            return is_empty(v) == want_empty

        return empty_test

    match = _matcher(c, name, ftype, kind, sub, tz)
    negate = op in ("not_equal", "not_in", "not_contains")

    def pred(rec: Mapping[str, Any]) -> bool:
        v = rec.get(name)
        if sub is not None:
            v = v.get(sub) if isinstance(v, Mapping) else None
        if is_empty(v):
            return False  # an empty field never matches, not even not_equal (§6.4)
        return match(v) != negate

    return pred


def _bad_value(c: Condition, name: str, ftype: str, text: str) -> CriteriaError:
    return CriteriaError(
        f"Value '{text}' does not fit the {ftype} field '{name}'",
        c.position,
        api_name=name,
        operator=c.operator,
    )


def _matcher(
    c: Condition, name: str, ftype: str, kind: str, sub: str | None, tz: _dt.tzinfo
) -> Callable[[Any], bool]:
    """A test of one non-empty field value for the operator (before negation)."""
    op = c.operator
    base = {"not_equal": "equals", "not_in": "in", "not_contains": "contains"}.get(op, op)
    texts = [v for v in c.values if v is not None]

    if sub in ("name", "email") or kind in (_TEXT, _TEXTAREA, _PICK):
        wanted = [t.casefold() for t in texts]
        return _text_matcher(base, wanted)
    if kind == _MULTI:
        wanted = [t.casefold() for t in texts]

        def multi(v: Any) -> bool:
            items = v.split(";") if isinstance(v, str) else list(v)
            low = [str(x).casefold() for x in items]
            if base == "starts_with":
                return any(x.startswith(wanted[0]) for x in low)
            return any(w in low for w in wanted)

        return multi
    if kind == _BOOL:
        t = texts[0].lower()
        if t not in ("true", "false"):
            raise _bad_value(c, name, ftype, texts[0])
        target = t == "true"
        return lambda v: _to_bool(v) == target
    if kind in (_LOOKUP, _OWNER):
        if sub == "id":
            ids = list(texts)
            for t in ids:
                if not t.isdigit():
                    raise _bad_value(c, name, ftype, t)
            return lambda v: str(v) in ids

        def lookup(v: Any) -> bool:
            if isinstance(v, Mapping):
                vid, vname, vmail = v.get("id"), v.get("name"), v.get("email")
            else:
                vid, vname, vmail = v, None, None
            for t in texts:
                if t.isdigit():
                    if str(vid) == t:
                        return True
                elif kind == _OWNER and "@" in t:
                    if isinstance(vmail, str) and vmail.casefold() == t.casefold():
                        return True
                elif isinstance(vname, str) and vname.casefold() == t.casefold():
                    return True
            return False

        return lookup
    # Ordered kinds: numbers, dates, date-times.
    conv: Callable[[Any], Any]
    if kind == _NUM:
        parse_v: Callable[[str], Any] = parse_number
        conv = _to_decimal
    elif kind == _DATE:
        parse_v = parse_date
        conv = _to_date
    else:

        def parse_v(t: str) -> Any:
            return parse_datetime(t, tz)

        def conv(v: Any) -> Any:
            return _to_datetime(v, tz)

    bounds = []
    for t in texts:
        b = parse_v(t)
        if b is None:
            raise _bad_value(c, name, ftype, t)
        bounds.append(b)
    return _ordered_matcher(base, bounds, conv)


def _text_matcher(base: str, wanted: list[str]) -> Callable[[Any], bool]:
    def norm(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v).casefold()

    if base == "starts_with":
        return lambda v: norm(v).startswith(wanted[0])
    if base == "contains":
        return lambda v: wanted[0] in norm(v)
    return lambda v: norm(v) in wanted  # equals / in: exact, ignoring case (D-51)


def _ordered_matcher(
    base: str, bounds: list[Any], conv: Callable[[Any], Any]
) -> Callable[[Any], bool]:
    def test(v: Any) -> bool:
        x = conv(v)
        if x is None:
            return False
        if base in ("equals", "in"):
            return any(x == b for b in bounds)
        if base == "greater_than":
            return bool(x > bounds[0])
        if base == "greater_equal":
            return bool(x >= bounds[0])
        if base == "less_than":
            return bool(x < bounds[0])
        if base == "less_equal":
            return bool(x <= bounds[0])
        if base == "between":
            return bool(bounds[0] <= x <= bounds[1])
        return False

    return test


def _to_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return None


def _to_decimal(v: Any) -> Decimal | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        return Decimal(repr(v))
    if isinstance(v, Decimal):
        return v
    if isinstance(v, str):
        return parse_number(v)
    return None


def _to_date(v: Any) -> _dt.date | None:
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    if isinstance(v, str):
        return parse_date(v[:10])
    return None


def _to_datetime(v: Any, tz: _dt.tzinfo) -> _dt.datetime | None:
    if isinstance(v, _dt.datetime):
        return v if v.tzinfo is not None else v.replace(tzinfo=tz)
    if isinstance(v, _dt.date):
        return _dt.datetime(v.year, v.month, v.day, tzinfo=tz)
    if isinstance(v, str):
        return parse_datetime(v, tz)
    return None
